"""Table definitions. Events are the history; the task row is a summary kept in step with them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class RepoRow(Base):
    __tablename__ = "repos"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    branch: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    forge: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # a ForgeRef; NULL: plain git remote


class TaskRow(Base):
    __tablename__ = "tasks"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(200), unique=True)
    repo: Mapped[str] = mapped_column(String(100), index=True)
    text: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20), index=True)
    requested_by: Mapped[str] = mapped_column(String(200))
    front_door: Mapped[str] = mapped_column(String(20))
    agent: Mapped[str | None] = mapped_column(String(50))
    model: Mapped[str | None] = mapped_column(String(100))
    branch: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(Text)
    merged_commit: Mapped[str | None] = mapped_column(String(64))
    approved_by: Mapped[str | None] = mapped_column(String(200))
    cost_usd: Mapped[float | None] = mapped_column(Float)
    preview_url: Mapped[str | None] = mapped_column(Text)
    artifacts: Mapped[list] = mapped_column(JSON, default=list)
    # The task's Timeline (honk.timeline), folded as events arrive; NULL for a task written before it.
    timeline: Mapped[dict | None] = mapped_column(JSON, nullable=True)


class EventRow(Base):
    __tablename__ = "events"
    # A global autoincrement id orders events across writers (server and workers) without locks.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict] = mapped_column(JSON)

    __table_args__ = (Index("ix_events_task_id_id", "task_id", "id"),)


class SlackThreadRow(Base):
    """A task's Slack thread (one thread, one task)."""

    __tablename__ = "slack_threads"
    channel: Mapped[str] = mapped_column(String(40), primary_key=True)
    thread_ts: Mapped[str] = mapped_column(String(40), primary_key=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    status_ts: Mapped[str | None] = mapped_column(String(40))
    status_at: Mapped[float] = mapped_column(Float, default=0.0)
    # Who asked (a streamed message is for them), and the task's streamed message (a SlackStream);
    # `stream_seq` counts its changes, so two workers never send the same change.
    user_id: Mapped[str | None] = mapped_column(String(40))
    team_id: Mapped[str | None] = mapped_column(String(40))
    stream: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    stream_seq: Mapped[int] = mapped_column(Integer, default=0)


class SlackChannelRow(Base):
    __tablename__ = "slack_channels"
    channel: Mapped[str] = mapped_column(String(40), primary_key=True)
    repo: Mapped[str] = mapped_column(String(100))


class SlackSeenEventRow(Base):
    """Event ids already handled: Slack's retries must not start or say anything twice."""

    __tablename__ = "slack_seen_events"
    event_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SlackUserRow(Base):
    __tablename__ = "slack_users"
    user_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    email: Mapped[str | None] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))


class UserRow(Base):
    __tablename__ = "users"
    email: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TokenRow(Base):
    """Sign-in links (one use, short-lived) and API tokens; only a hash of the secret is kept."""

    __tablename__ = "tokens"
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    email: Mapped[str] = mapped_column(ForeignKey("users.email", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # "login" | "api"
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditRow(Base):
    """Who did (or was refused) what, when, through which front door. Rows are only ever added:
    triggers in the database refuse updates and deletes (see honk.store.audit)."""

    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(String(200), index=True)
    front_door: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(30), index=True)
    outcome: Mapped[str] = mapped_column(String(20))
    repo: Mapped[str | None] = mapped_column(String(100))
    task_id: Mapped[str | None] = mapped_column(String(40), index=True)
    rule: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text, default="")


class TranscriptRow(Base):
    """One line of an agent's own session transcript (opaque JSON), kept so any worker can resume it."""

    __tablename__ = "agent_transcripts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session: Mapped[str] = mapped_column(String(200))
    uuid: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    entry: Mapped[dict] = mapped_column(JSON)

    __table_args__ = (Index("ix_agent_transcripts_session_id", "session", "id"),)


class AttachmentRow(Base):
    """A file that came with a request (honk.attachments decided what is kept): the bytes live here so a
    worker on any machine gets them, and go with the task, or sooner under the retention setting."""

    __tablename__ = "attachments"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # the order they came in
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class RepoSecretRow(Base):
    """A repo's secret (honk.store.secrets): only its ciphertext is kept, which names its repo and name
    inside, so a row copied to another repo or name does not decrypt as that one."""

    __tablename__ = "repo_secrets"
    repo: Mapped[str] = mapped_column(ForeignKey("repos.name", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[str] = mapped_column(String(200))


class RepoNetworkAllowanceRow(Base):
    """A host an admin allowed a repo (honk.store.network): for which phases, who first allowed it and
    when, and who last added phases to it. Every change is in the audit log too."""

    __tablename__ = "repo_network_allowances"
    repo: Mapped[str] = mapped_column(ForeignKey("repos.name", ondelete="CASCADE"), primary_key=True)
    host: Mapped[str] = mapped_column(String(260), primary_key=True)
    phases: Mapped[list] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[str] = mapped_column(String(200))


class PreviewRow(Base):
    """A task's running preview (honk.store.previews): the worker that runs it, where the web server
    reaches it, its state, when it was last opened, and the generation its signed links must carry."""

    __tablename__ = "previews"
    task_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(20))
    worker: Mapped[str] = mapped_column(String(200), default="")
    address: Mapped[str | None] = mapped_column(String(500), nullable=True)
    token: Mapped[str | None] = mapped_column(String(100), nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_access: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    idle_stop_s: Mapped[float] = mapped_column(Float, default=900.0)
    link_generation: Mapped[int] = mapped_column(Integer, default=0)
    stop_wanted: Mapped[bool] = mapped_column(Boolean, default=False)


class DeployRow(Base):
    """One deploy of a repo's merged change (honk.store.deploys): which commit, for which task, who set
    it off, when it started and ended, and what it came to. Kept when the repo goes, like the audit log."""

    __tablename__ = "deploys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    repo: Mapped[str] = mapped_column(String(100))
    task_id: Mapped[str | None] = mapped_column(String(64), index=True)
    commit: Mapped[str] = mapped_column(String(64))
    by: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    result: Mapped[str] = mapped_column(String(20))
    link: Mapped[str | None] = mapped_column(Text, nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_deploys_repo_id", "repo", "id"),)


class HookDeliveryRow(Base):
    """A forge's webhook delivery (honk.store.deliveries), once per delivery id: which forge and event,
    when it came, its raw JSON, and how far it got (stored, its workflow started, handled)."""

    __tablename__ = "hook_deliveries"
    forge: Mapped[str] = mapped_column(String(20), primary_key=True)
    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    event: Mapped[str] = mapped_column(String(60))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    payload: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_hook_deliveries_state_received", "state", "received_at"),)


class ForgeThreadRow(Base):
    """An issue or pull request Honk answers on (honk.store.forge_threads), and the task that works on it."""

    __tablename__ = "forge_threads"
    forge: Mapped[str] = mapped_column(String(20), primary_key=True)
    repo: Mapped[str] = mapped_column(String(200), primary_key=True)  # lower case: forges' names are not
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[str] = mapped_column(String(64))
    pull_request: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_forge_threads_task", "task_id"),)


class TaskRepoRow(Base):
    """One of the other repos of a task over several (issue 20), written with the event that says it (the
    task's TaskAccepted; the repo's RepoPublished gives `number`, its pull request): what finds the task of a
    forge event on that repo's pull request or branch with one lookup, not a read of every history."""

    __tablename__ = "task_repos"
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True)
    repo: Mapped[str] = mapped_column(String(100), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, default=0)  # its pull request; 0: none (yet)

    __table_args__ = (Index("ix_task_repos_repo_number", "repo", "number"),)


class TriggerRow(Base):
    """A trigger (honk.store.triggers): a preset task its URL starts, as the person who made it. Its token is
    kept only as a SHA-256 digest, looked up by it."""

    __tablename__ = "triggers"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    repo: Mapped[str] = mapped_column(String(100), index=True)
    prompt: Mapped[str] = mapped_column(Text)
    agent: Mapped[str | None] = mapped_column(String(50), nullable=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    fired: Mapped[int] = mapped_column(Integer, default=0)
    last_fired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class CampaignRow(Base):
    """A campaign (honk.store.campaigns): one request across many repos, as asked; its members are rows of
    `campaign_members`. `slack_ts`: its one Slack message, updated in place."""

    __tablename__ = "campaigns"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(200), unique=True)
    text: Mapped[str] = mapped_column(Text)
    selector: Mapped[dict] = mapped_column(JSON)  # a RepoSelector
    settings: Mapped[dict] = mapped_column(JSON)  # CampaignSettings
    state: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="")
    requested_by: Mapped[str] = mapped_column(String(200))
    front_door: Mapped[str] = mapped_column(String(20))
    agent: Mapped[str | None] = mapped_column(String(50), nullable=True)
    model: Mapped[str | None] = mapped_column(String(100), nullable=True)
    slack: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # a SlackThread
    slack_ts: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    asked_as: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # an AskedAs (None: before 0016)


class CampaignMemberRow(Base):
    """One repo of a campaign: its place in the order (the first wave is the first `wave_size`), its
    latest attempt and task, and the budget share reserved for that attempt."""

    __tablename__ = "campaign_members"
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    repo: Mapped[str] = mapped_column(String(100), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    wave: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="")
    task_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    instruction: Mapped[str] = mapped_column(Text, default="")  # added to the request by a retry
    cost_cap_usd: Mapped[float | None] = mapped_column(Float, nullable=True)
    earlier_cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    merge_tried: Mapped[bool] = mapped_column(Boolean, default=False)


class AttemptPickRow(Base):
    """A best-of-N group's pick (honk.store.attempts): one row per group, its key the group, so of two picks
    at once only the first insert stands."""

    __tablename__ = "attempt_picks"
    group_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    task_id: Mapped[str] = mapped_column(String(40))
    attempt: Mapped[int] = mapped_column(Integer)
    picked_by: Mapped[str] = mapped_column(String(200))
    picked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
