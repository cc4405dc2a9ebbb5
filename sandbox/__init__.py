"""The simulated world around the hub: the NGSP/NDXP national gateway stub, the demo and the once-only
simulation. It depends on `lgsp` and `connectors`; neither depends on it."""
