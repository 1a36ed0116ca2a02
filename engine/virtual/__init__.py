"""Virtual partitions' building blocks: settings, splitting, the watermark, the commit metadata.

Pure pieces, no I/O and no threads. ``engine.VirtualPartitions`` is ``settings``' value, given
to ``app.topic(..., virtual_partitions=...)``; the runtime that splits a batch over worker jobs,
collapses retries and stores the watermark with its metadata is
``engine.processing.virtual_batch`` (with ``virtual_context`` and ``virtual_jobs`` beside it).
See API.md section 12.

- ``settings``: the ``VirtualPartitions`` value and its validation.
- ``stable_hash``: a process-independent hash of a partitioner's value.
- ``distributions``: ``consistent`` and ``balanced`` splitting of one partition's batch.
- ``errors``: ``SplitError``, a partitioner's failure naming the offset.
- ``watermark``: one partition's in-flight offsets across its virtual partitions.
- ``metadata``: completed offsets above the watermark, encoded for a commit's metadata.
"""
