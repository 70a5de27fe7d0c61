"""SQLModel tables. Importing this package registers every table on ``SQLModel.metadata``."""

from models.conversation import ConversationState, InboundMessage
from models.delivery import Channel, Delivery, DeliveryStatus, SimMessage
from models.member import (
    ApplicationStatus,
    Committee,
    Identity,
    LiaisonGroup,
    Member,
    MemberApplication,
    MemberStatus,
    Platform,
    Role,
    Sector,
)
from models.outbound import AccessToken, ChatWindow
from models.scheduling import JobRun, RunOutcome, ScheduledTask, TaskStatus

__all__ = [
    "AccessToken",
    "ApplicationStatus",
    "Channel",
    "ChatWindow",
    "Committee",
    "ConversationState",
    "Delivery",
    "DeliveryStatus",
    "Identity",
    "InboundMessage",
    "JobRun",
    "LiaisonGroup",
    "Member",
    "MemberApplication",
    "MemberStatus",
    "Platform",
    "Role",
    "RunOutcome",
    "ScheduledTask",
    "Sector",
    "SimMessage",
    "TaskStatus",
]
