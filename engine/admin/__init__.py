"""Declared topics and consumer groups on the cluster (``confluent_kafka.admin``).

``plan``/``create``/``repartition``/``align``/``migrate``/``delete`` work on what the app
declares (``app.topic(..., config=...)``, ``app.declare_topic``); ``topic_info``, ``lag`` and
``seek_group`` look at or move what is there. Problems raise ``engine.AdminError``.
"""

from engine.admin.changes import AddPartitions, Change, CreateTopic, DeleteTopic, Plan, SetConfig
from engine.admin.groups import PartitionLag, lag, seek_group
from engine.admin.topics import (
    TopicInfo,
    align,
    create,
    delete,
    existing,
    migrate,
    plan,
    repartition,
    topic_info,
)

__all__ = [
    "AddPartitions", "Change", "CreateTopic", "DeleteTopic", "PartitionLag", "Plan",
    "SetConfig", "TopicInfo", "align", "create", "delete", "existing", "lag", "migrate",
    "plan", "repartition", "seek_group", "topic_info",
]
