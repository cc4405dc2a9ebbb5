"""Topics of a test, removed from the broker afterwards."""

from aiokafka.admin import AIOKafkaAdminClient


async def delete_topics(bootstrap: str, prefix: str) -> None:
    """Drop the topics under `prefix`, so the session broker stays small (every client's metadata covers
    every topic)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        mine = [t for t in await admin.list_topics() if t.startswith(f"{prefix}.")]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()
