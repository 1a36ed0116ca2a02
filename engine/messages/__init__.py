"""Messages as consumers see them: one message, a batch of one partition, its metadata."""

from engine.messages.batch import Messages
from engine.messages.message import Message, Origin, RawMessage
from engine.messages.metadata import BatchMetadata

__all__ = ["BatchMetadata", "Message", "Messages", "Origin", "RawMessage"]
