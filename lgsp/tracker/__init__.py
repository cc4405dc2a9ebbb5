"""The citizen's data tracker: every access to a person's data, shown to that person alone
(docs/citizens/data-tracker.md)."""
