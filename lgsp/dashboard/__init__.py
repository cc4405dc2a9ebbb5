"""The public web dashboard at `/`: the province's indicators and every system's links, server-rendered."""
