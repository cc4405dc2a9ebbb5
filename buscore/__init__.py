"""What the hub's bus layer and the connector SDK both need to drive aiokafka; it depends on nothing
of ours, so a connector can use it without the hub."""
