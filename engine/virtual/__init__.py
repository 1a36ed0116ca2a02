"""Virtual partitions' building blocks: settings, splitting, the watermark, the commit metadata.

Internal and not wired yet: nothing here is exported from ``engine`` and ``app.topic`` does not
accept ``virtual_partitions=`` yet, on purpose (a public option that silently did nothing would
be worse than none). The runtime (splitting a batch over worker jobs, collapsed retries, commits
carrying the metadata) will be built on these pure pieces; see API.md section 12.

- ``settings``: the ``VirtualPartitions`` value and its validation.
- ``stable_hash``: a process-independent hash of a partitioner's value.
- ``distributions``: ``consistent`` and ``balanced`` splitting of one partition's batch.
- ``errors``: ``SplitError``, a partitioner's failure naming the offset.
- ``watermark``: one partition's in-flight offsets across its virtual partitions.
- ``metadata``: completed offsets above the watermark, encoded for a commit's metadata.
"""
