"""The connector's inbox watchdog tells a consumer stuck past the end of its log from a quiet one."""

import uuid

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from connectors.sdk import _waits_past_end
from tests.support import Broker


async def test_only_a_consumer_waiting_past_the_end_of_its_log_is_stuck(broker: Broker) -> None:
    topic = f"watchdog-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
    await admin.start()
    consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False)
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
        await consumer.start()
        assert await _waits_past_end(consumer)  # nothing assigned: nothing will ever arrive
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_end(partition)
        assert not await _waits_past_end(consumer)  # quiet, at the end of its log: fine
        # What a memory-only broker restarted under it leaves: an offset its new, empty log lacks.
        consumer.seek(partition, 57)
        assert await _waits_past_end(consumer)
    finally:
        await consumer.stop()
        await admin.delete_topics([topic])
        await admin.close()
