"""Dev data: the workshop's two talks and a realistic one-day programme around them.

The workshop's talks have no times, so they take ratings whenever the dev stack runs (a talk
without times is always open). The programme around them is dated around the moment the stack
starts (each start dates it again): its morning's talks have ended (still rated during the
grace that follows a talk), three talks run now, the afternoon's open later. So a newcomer sees
a conference in progress: talks running now, talks to rate, talks not open yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# The programme's first slot (its "10:30") lies this long before the half hour the stack starts
# in, so that the slot three hours later (its "13:30") is the one running.
OPENING_BEFORE_NOW = timedelta(hours=3)


def programme_opening(now: datetime | None = None) -> datetime:
    """When the programme's first slot starts, for a stack starting `now` (the current time)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    half_hour = now.replace(minute=now.minute // 30 * 30, second=0, microsecond=0)
    return half_hour - OPENING_BEFORE_NOW


@dataclass(frozen=True)
class DevTalk:
    """A talk of the dev programme: its start as a time after the programme's opening."""

    id: str
    title: str
    speakers: tuple[str, ...]
    track: str
    room: str
    starts_after: timedelta | None
    minutes: int = 45
    # The language of its title and speakers' names (a BCP 47 tag); None: the programme's own
    language: str | None = None

    def starts_at(self, opening: datetime) -> datetime | None:
        """When the talk starts (None for a talk without times)."""
        return None if self.starts_after is None else opening + self.starts_after

    @property
    def ends_after(self) -> timedelta | None:
        """When the talk ends, as a time after the programme's opening (None without times)."""
        return (
            None
            if self.starts_after is None
            else self.starts_after + timedelta(minutes=self.minutes)
        )

    def ends_at(self, opening: datetime) -> datetime | None:
        """When the talk ends (None for a talk without times)."""
        return None if self.ends_after is None else opening + self.ends_after


def _at(hour: int, minute: int = 0) -> timedelta:
    """A slot of the day as printed on a programme ("10:30"), after the opening at 10:30."""
    return timedelta(hours=hour, minutes=minute) - timedelta(hours=10, minutes=30)


DEV_TALKS: tuple[DevTalk, ...] = (
    # The two talks of the original workshop keep their ids: its clients use them. Without
    # times, they take ratings at any time.
    DevTalk(
        "testcontainers-integration-testing",
        "Modern Integration Testing with Testcontainers",
        ("Mira Holloway",),
        "Testing",
        "Hall A",
        None,
    ),
    DevTalk(
        "flight-of-the-gopher",
        "A look at Go scheduler",
        ("Natalia Kowalska",),
        "Languages",
        "Hall B",
        None,
    ),
    DevTalk(
        "event-sourcing-without-tears",
        "Event Sourcing Without Tears",
        ("Amara Okafor",),
        "Architecture",
        "Hall A",
        _at(10, 30),
    ),
    DevTalk(
        "kafka-exactly-once-myths",
        "Exactly-Once in Kafka: Myths and Mechanics",
        ("Jonas Lindqvist", "Priya Raman"),
        "Streaming",
        "Hall B",
        _at(10, 30),
    ),
    # A talk given in Spanish: its page, screen and programme entry carry its language
    DevTalk(
        "serverless-cold-starts",
        "Arranques en frío sin miedo: Python sin servidores",
        ("Lucía Fernández",),
        "Serverless",
        "Room 1",
        _at(10, 30),
        30,
        "es",
    ),
    DevTalk(
        "postgres-as-a-queue",
        "PostgreSQL as a Queue: When and When Not",
        ("Marek Nowak",),
        "Data",
        "Room 2",
        _at(11, 30),
    ),
    DevTalk(
        "redis-data-structures",
        "Redis Data Structures You Are Not Using",
        ("Hannah Schmidt",),
        "Data",
        "Hall A",
        _at(11, 30),
    ),
    DevTalk(
        "observability-on-a-budget",
        "Observability on a Budget",
        ("Kwame Mensah",),
        "Operations",
        "Hall B",
        _at(11, 30),
    ),
    DevTalk(
        "typed-python-at-scale",
        "Typed Python at Scale",
        ("Yuki Tanaka",),
        "Languages",
        "Room 1",
        _at(13, 30),
    ),
    DevTalk(
        "contract-testing-apis",
        "Contract Testing for HTTP APIs",
        ("Sofia Rossi", "Daniel Cohen"),
        "Testing",
        "Room 2",
        _at(13, 30),
    ),
    DevTalk(
        "idempotency-keys-in-practice",
        "Idempotency Keys in Practice",
        ("Fatima Zahra",),
        "Architecture",
        "Hall A",
        _at(13, 30),
    ),
    DevTalk(
        "chaos-engineering-101",
        "Chaos Engineering 101: Breaking Things on Purpose",
        ("Liam O'Connor",),
        "Operations",
        "Hall B",
        _at(14, 30),
    ),
    DevTalk(
        "designing-leaderboards",
        "Designing Real-Time Leaderboards",
        ("Chen Wei",),
        "Data",
        "Room 1",
        _at(14, 30),
        30,
    ),
    DevTalk(
        "infrastructure-as-code-sam",
        "Infrastructure as Code with AWS SAM",
        ("Ines Duarte",),
        "Serverless",
        "Room 2",
        _at(14, 30),
    ),
    DevTalk(
        "accessible-web-forms",
        "Accessible Web Forms that Convert",
        ("Noah Williams",),
        "Frontend",
        "Hall A",
        _at(15, 30),
    ),
    DevTalk(
        "rust-for-pythonistas",
        "Rust for Pythonistas",
        ("Elena Petrova",),
        "Languages",
        "Hall B",
        _at(15, 30),
    ),
    DevTalk(
        "closing-keynote-feedback-loops",
        "Closing Keynote: Short Feedback Loops",
        ("Grace Adeyemi",),
        "Keynote",
        "Hall A",
        _at(16, 30),
        60,
    ),
)


ALWAYS_OPEN: tuple[str, ...] = tuple(talk.id for talk in DEV_TALKS if talk.starts_after is None)
