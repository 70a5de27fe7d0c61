"""SQLModel tables, one module per capability. Importing this package registers every table on
``SQLModel.metadata`` (the migrations and the tests build the schema from it); code imports the names from
their own module (``from models.activity import Activity``)."""

from models import (  # noqa: F401  (imported for their tables)
    activity,
    api_token,
    audit,
    base,
    console,
    conversation,
    delivery,
    duty,
    media,
    member,
    notice,
    outbound,
    report,
    scheduling,
    secret,
)
