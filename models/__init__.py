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
from models.report import (
    AdoptionLevel,
    Instruction,
    PhotoStatus,
    Report,
    ReportEvent,
    ReportPhoto,
    ReportStatus,
)
from models.scheduling import JobRun, RunOutcome, ScheduledTask, TaskStatus

__all__ = [
    "AccessToken",
    "AdoptionLevel",
    "ApplicationStatus",
    "Channel",
    "ChatWindow",
    "Committee",
    "ConversationState",
    "Delivery",
    "DeliveryStatus",
    "Identity",
    "InboundMessage",
    "Instruction",
    "JobRun",
    "LiaisonGroup",
    "Member",
    "MemberApplication",
    "MemberStatus",
    "PhotoStatus",
    "Platform",
    "Report",
    "ReportEvent",
    "ReportPhoto",
    "ReportStatus",
    "Role",
    "RunOutcome",
    "ScheduledTask",
    "Sector",
    "SimMessage",
    "TaskStatus",
]
