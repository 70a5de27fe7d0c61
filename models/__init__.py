"""SQLModel tables. Importing this package registers every table on ``SQLModel.metadata``."""

from models.conversation import ConversationState, InboundMessage
from models.delivery import Delivery, DeliveryStatus, SimMessage
from models.member import Committee, Identity, LiaisonGroup, Member, MemberStatus, Platform, Role, Sector

__all__ = [
    "Committee",
    "ConversationState",
    "Delivery",
    "DeliveryStatus",
    "Identity",
    "InboundMessage",
    "LiaisonGroup",
    "Member",
    "MemberStatus",
    "Platform",
    "Role",
    "Sector",
    "SimMessage",
]
