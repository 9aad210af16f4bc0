"""``selfeng tail``, ``selfeng log stats``, ``selfeng publish``: watching and feeding the log."""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO

import click
from rich.markup import escape
from rich.table import Table

from selfeng.cli import Context
from selfeng.cli.render import console, err_console, event_line, format_time_ms, print_json
from selfeng.core.log import before_end
from selfeng.core.positions import GlobalPosition
from selfeng.core.records import StoredRecord
from selfeng.producers.publish import publish
from selfeng.projections.events import EventCountsState, recent_rate
from selfeng.schemas import EVENT_TYPES, TOPICS

pass_context = click.make_pass_decorator(Context)


@click.command("tail")
@click.option("-f", "--follow", is_flag=True, help="Keep printing events as they arrive.")
@click.option(
    "-t",
    "--type",
    "types",
    multiple=True,
    metavar="TYPE",
    help="Only events of this type (repeatable).",
)
@click.option(
    "--topic",
    "topics",
    multiple=True,
    type=click.Choice(TOPICS),
    help="Only events of this topic (repeatable).",
)
@click.option(
    "-n",
    "--last",
    default=20,
    show_default=True,
    help="Start this many events before the end (counted before --type/--topic filter).",
)
@click.option("--from", "from_", metavar="POSITION", help="Start after this position instead.")
@click.option("--all", "from_start", is_flag=True, help="Start at the beginning of the log.")
@click.option("--json", "as_json", is_flag=True, help="Print each event's JSON, one per line.")
@pass_context
def tail(
    ctx: Context,
    follow: bool,
    types: tuple[str, ...],
    topics: tuple[str, ...],
    last: int,
    from_: str | None,
    from_start: bool,
    as_json: bool,
) -> None:
    """Print events from the log, readable by a person (or as JSON lines)."""
    unknown = [t for t in types if t not in EVENT_TYPES]
    if unknown:
        raise click.BadParameter(
            f"unknown type(s) {', '.join(unknown)}; see `selfeng schemas list`", param_hint="--type"
        )
    log = ctx.app.log
    if from_start:
        after = log.start()
    elif from_ is not None:
        try:
            after = log.parse_position(from_)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--from") from exc
    else:
        after = before_end(log, last)
    partitioned = not isinstance(after, GlobalPosition)
    type_filter, topic_filter = set(types) or None, set(topics) or None
    if follow:
        source = log.follow(after, types=type_filter, topics=topic_filter)
    else:
        source = log.read(after, types=type_filter, topics=topic_filter)
    try:
        if partitioned and not follow:
            # Kafka interleaves partitions: show the newest ``last`` records in time order.
            records = sorted(
                (r for batch in source for r in batch.records),
                key=lambda r: (r.timestamp_ms, r.topic, r.partition, r.offset),
            )
            _print(
                records[-last:] if from_ is None and not from_start else records,
                as_json,
                partitioned,
            )
            return
        for batch in source:
            _print(batch.records, as_json, partitioned)
    except KeyboardInterrupt:
        pass


def _print(records: Iterable[StoredRecord], as_json: bool, partitioned: bool) -> None:
    for record in records:
        if as_json:
            click.echo(record.data.decode("utf-8", "replace"))
        else:
            place = record.source if partitioned else str(record.offset)
            console.print(event_line(record, place))


@click.group("log")
def log_group() -> None:
    """Facts about the log itself."""


@log_group.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print the numbers as JSON.")
@pass_context
def stats(ctx: Context, as_json: bool) -> None:
    """Counts of events per type and per topic, the time span and recent throughput."""
    app = ctx.app
    app.engine.main.catch_up()
    counts: EventCountsState = app.engine.main.dumped("events")
    head = app.log.head()
    if as_json:
        print_json(
            {
                **counts,
                "log": app.log.url,
                "head": str(head),
                "events_per_second_last_5_min": recent_rate(counts),
            }
        )
        return
    console.print(f"log      {app.log.url}")
    console.print(f"head     {head}")
    console.print(f"events   {counts['total']:,}")
    console.print(
        f"span     {format_time_ms(counts['first_ms'])} .. {format_time_ms(counts['last_ms'])}"
    )
    console.print(f"rate     {recent_rate(counts):,.2f} events/s over the log's last 5 minutes")
    topics = Table("topic", "events", title="per topic")
    for topic, n in sorted(counts["by_topic"].items()):
        topics.add_row(topic, f"{n:,}")
    console.print(topics)
    types = Table("type", "events", title="per type")
    for name, n in sorted(counts["by_type"].items(), key=lambda kv: (-kv[1], kv[0])):
        types.add_row(name, f"{n:,}")
    console.print(types)


@click.command("publish")
@click.argument("source", type=click.File("rb"), default="-")
@click.option("--client", default="cli", show_default=True, help="Who is publishing.")
@pass_context
def publish_command(ctx: Context, source: IO[bytes], client: str) -> None:
    """Validate and append events given as JSON lines (a file, or - for standard input).

    Invalid lines go to the dead-letter topic with the reason and the raw bytes.
    """
    lines = [line.rstrip(b"\r\n") for line in source if line.strip()]
    report = publish(ctx.app.log, lines, client=client)
    console.print(f"appended {len(report.accepted)} event(s)")
    for letter in report.dead_letters:
        err_console.print(f"[red]dead-lettered[/red] ({letter.error}): {escape(letter.reason)}")
    if report.dead_letters:
        raise SystemExit(1)


COMMANDS = [tail, log_group, publish_command]
