"""``make demo``: the whole path on one machine, in under a minute.

Starts the Casey sandbox and a local Prefect server in the background (state, pid files and
logs under ``.casey-flows/``; the user's ``~/.prefect`` is never touched), saves a credentials
block for the sandbox, runs ``call_campaign`` on ``deployments/demo_contacts.csv`` through
Prefect, prints the outcomes, loads the calls and answers into a DuckDB file with ``sync_calls``
(``.casey-flows/warehouse/``, never ``~/.casey-flows``), prints outcomes by answer and the SQL
behind them, and where to see it all in the UI. Both servers keep running. A second
``make demo`` reuses them; ``make down`` stops them.
"""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

from deployments.local_services import (
    STATE_DIR,
    Service,
    answers,
    free_port,
    wait_until_answers,
)

CONTACTS_CSV = Path(__file__).with_name("demo_contacts.csv")
SUPPRESSED = ["+12025550142"]  # one number of the CSV is on the do-not-call list
SANDBOX_PORT = 8765
PREFECT_PORT = 4200
SANDBOX_SPEED = 30.0  # a 60 s call takes 2 s
BLOCK_NAME = "casey"  # the name prefect.yaml's deployments use; lives on the demo server only
CONNECTION = "demo-outbound"

SANDBOX = Service("sandbox")
PREFECT = Service("prefect-server")
SERVE = Service("serve")
# Served for the user to start from the UI; the after-campaign trigger reports on the demo's
# campaign, and warehouse-sync's trigger syncs it too (then hourly; the demo's own sync and it
# take turns on the warehouse). The call campaigns' schedules stay out of the demo.
SERVED = [
    "place-call/by-hand",
    "call-campaign/on-demand",
    "call-report/after-campaign",
    "sync-calls/warehouse-sync",
]
PREFECT_HOME = STATE_DIR / "prefect"
# The demo's DuckDB file and dlt state: in the demo's own state directory, never the home one.
WAREHOUSE_DIR = STATE_DIR / "warehouse"
# What a data team runs on the warehouse: call outcomes against the answers given on the calls.
OUTCOMES_BY_ANSWER_SQL = (
    "SELECT c.outcome, a.appointment_confirmed, count(*) AS calls FROM casey.calls AS c\n"
    "LEFT JOIN casey.conversation_answers AS a USING (conversation_id) GROUP BY 1, 2 ORDER BY 1, 2;"
)


def say(message: str) -> None:
    print(message, flush=True)


def _reuse_or_pick_port(service: Service, preferred: int, health_path: str) -> tuple[int, bool]:
    """(port, running): our own still-healthy service from an earlier demo, else a free port."""
    port = service.port()
    if service.pid() and port and answers(f"http://127.0.0.1:{port}{health_path}"):
        return port, True
    service.stop()
    return free_port(preferred), False


def start_sandbox() -> str:
    """The sandbox's root URL, starting it if no earlier demo left one running."""
    port, running = _reuse_or_pick_port(SANDBOX, SANDBOX_PORT, "/_sandbox/stats")
    root = f"http://127.0.0.1:{port}"
    if not running:
        argv = [sys.executable, "-m", "casey_flows.sandbox", "--port", str(port), "--seed", "11"]
        argv += ["--speed", str(SANDBOX_SPEED)]
        SANDBOX.start(argv, port, env=dict(os.environ))
        wait_until_answers(root + "/_sandbox/stats", timeout=30, service=SANDBOX)
    say(f"  sandbox        {root}/v1/backend   ({'reused' if running else 'started'})")
    return root


def prefect_server_env() -> dict[str, str]:
    """The server's environment: its own home and SQLite file, quiet logs, patient SQLite.

    SQLite allows one writer; a generous statement timeout makes concurrent writers wait instead
    of failing with "database is locked". The server's log goes to a file, warnings and up only.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(PREFECT_HOME),
        PREFECT_SERVER_DATABASE_TIMEOUT="60",
        PREFECT_SERVER_DATABASE_CONNECTION_TIMEOUT="30",
        PREFECT_SERVER_LOGGING_LEVEL="WARNING",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT="false",
    )
    return env


def start_prefect_server() -> str:
    """The API URL of the demo's Prefect server, starting it if needed."""
    port, running = _reuse_or_pick_port(PREFECT, PREFECT_PORT, "/api/health")
    api = f"http://127.0.0.1:{port}/api"
    if not running:
        PREFECT_HOME.mkdir(parents=True, exist_ok=True)
        prefect = str(Path(sys.executable).with_name("prefect"))
        argv = [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)]
        PREFECT.start(argv, port, env=prefect_server_env())
        say("  prefect server starting (first start creates its database: ~10-20 s) ...")
        wait_until_answers(api + "/health", timeout=120, service=PREFECT)
    say(f"  prefect server {api}   ({'reused' if running else 'started'})")
    return api


def use_demo_prefect(api_url: str) -> None:
    """Point this process's Prefect client at the demo server; console shows warnings only."""
    os.environ.update(
        PREFECT_HOME=str(PREFECT_HOME),
        PREFECT_API_URL=api_url,
        PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL="WARNING",
        PREFECT_LOGGING_TO_API_BATCH_INTERVAL="0.5",
    )


def use_demo_warehouse() -> None:
    """``sync_calls`` in this process and in served runs loads the demo's own DuckDB file."""
    from casey_flows.warehouse.destination import WAREHOUSE_DIR_ENV

    os.environ[WAREHOUSE_DIR_ENV] = str(WAREHOUSE_DIR)


def start_serve(api_url: str) -> None:
    """``python -m deployments.serve`` for a few deployments, in the background; waits until
    they are registered, so the after-campaign automation sees this demo's campaign."""
    if SERVE.pid() is None:
        env = {**os.environ, "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "INFO"}
        SERVE.start([sys.executable, "-m", "deployments.serve", *SERVED], 0, env=env)
    asyncio.run(_wait_for_deployments(timeout=60))
    served = f"deployments    {', '.join(SERVED)} (served in the background)"
    say(
        textwrap.fill(
            served,
            width=96,
            initial_indent="  ",
            subsequent_indent=" " * 17,
            break_on_hyphens=False,
        )
    )


async def _wait_for_deployments(timeout: float) -> None:
    from prefect.client.orchestration import get_client

    deadline = time.monotonic() + timeout
    async with get_client() as client:
        while time.monotonic() < deadline:
            names = {f"{d.name}" for d in await client.read_deployments()}
            if {n.split("/")[1] for n in SERVED} <= names:
                return
            if SERVE.pid() is None:
                raise RuntimeError(f"serve exited during start-up; see {SERVE.log_file}")
            await asyncio.sleep(0.5)
    raise TimeoutError(f"deployments not served within {timeout:g} s; see {SERVE.log_file}")


def always_open_window() -> Any:
    from datetime import time as clock

    from casey_flows import CallingWindow

    return CallingWindow(start=clock(0), end=clock(23, 59, 59), days=range(7), timezone="UTC")


async def run_campaign(sandbox_root: str) -> tuple[Any, str]:
    """Save the block, run the campaign; (CampaignResult, flow run id)."""
    from blocks.setup import save_sandbox_credentials
    from casey_flows import CallLimits, CallRetries, Suppression, call_campaign
    from casey_flows.warehouse import WarehouseOptOuts

    await save_sandbox_credentials(sandbox_root, BLOCK_NAME)
    say(f"  credentials    block {BLOCK_NAME!r} -> the sandbox (key sk_test_…)")
    say(f"\nRunning call-campaign on {CONTACTS_CSV.name} ...")
    state = await call_campaign(
        connection_code=CONNECTION,
        contacts_file=str(CONTACTS_CSV),
        credentials_block=BLOCK_NAME,
        calling_window=always_open_window(),
        # Who opted out on an earlier demo's call is skipped (the first demo has nobody yet).
        suppression=Suppression(numbers=SUPPRESSED, opt_outs_from=WarehouseOptOuts()),
        limits=CallLimits(
            max_concurrent_calls=10, call_timeout_seconds=120, poll_interval_seconds=0.5
        ),
        retries=CallRetries(max_attempts=2, delay_seconds=3),
        return_state=True,
    )
    if not state.is_completed():
        raise RuntimeError(f"the campaign run ended {state.name}: {state.message}")
    return await state.result(), str(state.state_details.flow_run_id)


async def run_sync() -> Any:
    """Calls, conversations, answers and opt-outs of the demo connection into DuckDB."""
    from casey_flows import sync_calls

    say(f"\nRunning sync-calls into {WAREHOUSE_DIR.relative_to(STATE_DIR.parent)}/ (DuckDB) ...")
    state = await sync_calls([CONNECTION], credentials_block=BLOCK_NAME, return_state=True)
    if not state.is_completed():
        raise RuntimeError(f"the sync run ended {state.name}: {state.message}")
    return await state.result()


def query_warehouse(sql: str) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` on the demo's DuckDB file.

    Under the pipeline's lock, as a sync takes it: the served warehouse-sync (triggered by this
    campaign) may be loading, and DuckDB lets no other process open the file while it writes.
    """
    import duckdb

    from casey_flows.flows.sync import DEFAULT_PIPELINE_NAME
    from casey_flows.warehouse import default_duckdb_path
    from casey_flows.warehouse.destination import one_writer

    with (
        one_writer(DEFAULT_PIPELINE_NAME),
        duckdb.connect(str(default_duckdb_path()), read_only=True) as db,
    ):
        return db.execute(sql).fetchall()


def text_table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[str]:
    """Aligned plain text; numbers right-aligned, NULL shown as a dash."""
    cells = [[("-" if v is None else str(v)) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]
    numeric = [bool(rows) and all(isinstance(r[i], int) for r in rows) for i in range(len(header))]

    def line(values: list[str]) -> str:
        parts = [
            v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric, strict=True)
        ]
        return "  " + "  ".join(parts).rstrip()

    return [line(list(header)), line(["-" * w for w in widths]), *(line(r) for r in cells)]


async def opted_out_numbers() -> list[str]:
    """What a campaign with ``Suppression(opt_outs_from=WarehouseOptOuts())`` would skip."""
    from casey_flows import mask_phone
    from casey_flows.warehouse import WarehouseOptOuts, read_opt_outs

    return [mask_phone(n) for n in await read_opt_outs(WarehouseOptOuts(), CONNECTION)]


def warehouse_lines() -> list[str]:
    """Outcomes by answer, who opted out, and the SQL to get the table yourself."""
    from casey_flows.warehouse import default_duckdb_path

    rows = query_warehouse(OUTCOMES_BY_ANSWER_SQL)
    opted_out = asyncio.run(opted_out_numbers())
    where = default_duckdb_path().relative_to(STATE_DIR.parent)
    return [
        "Calls in the warehouse, by outcome and answer:",
        *text_table(("outcome", "appointment_confirmed", "calls"), rows),
        "",
        textwrap.fill(
            f"Opted out: {', '.join(opted_out) or 'nobody'} (casey.opt_outs; a campaign given "
            "suppression.opt_outs_from skips them, as the next `make demo` does)",
            width=96,
            subsequent_indent="  ",
        ),
        f"The table above, in any DuckDB client on {where}:",
        *("  " + line for line in OUTCOMES_BY_ANSWER_SQL.splitlines()),
    ]


def outcome_lines(result: Any) -> list[str]:
    """One line per contact, masked: what a person checks first."""
    from casey_flows.campaign.outcomes import outcome_value

    lines = [f"  {'number':<14} {'name':<10} {'outcome':<12} {'tries':>5}  note"]
    for o in result.outcomes:
        note = o.reason or (o.ended_reason or "")
        note = note if len(note) <= 60 else note[:59] + "…"
        name = (o.name or "")[:10]
        outcome = outcome_value(o.outcome)
        lines.append(f"  {o.masked_phone:<14} {name:<10} {outcome:<12} {o.attempts:>5}  {note}")
    return lines


def main() -> int:
    started = time.monotonic()
    say("casey-flows demo: sandbox + Prefect server + one campaign + a warehouse sync\n")
    try:
        sandbox_root = start_sandbox()
        api_url = start_prefect_server()
    except (RuntimeError, TimeoutError) as exc:
        say(f"demo: could not start a background service: {exc}")
        return 1
    use_demo_prefect(api_url)
    use_demo_warehouse()
    try:
        start_serve(api_url)
    except (RuntimeError, TimeoutError) as exc:
        say(f"demo: could not serve the deployments: {exc}")
        return 1
    result, flow_run_id = asyncio.run(run_campaign(sandbox_root))
    ui = api_url.removesuffix("/api")
    say("")
    say("\n".join(outcome_lines(result)))
    say("")
    say(result.summary_table())
    if result.duplicates:
        say(f"({result.duplicates} duplicate row(s) collapsed into an earlier row)")
    synced = asyncio.run(run_sync())
    loaded = ", ".join(f"{n} {t}" for t, n in synced.rows.items()) or "nothing new"
    say(textwrap.fill(f"loaded {loaded}", width=96, initial_indent="  ", subsequent_indent="  "))
    say("")
    say("\n".join(warehouse_lines()))
    say(f"\nDone in {time.monotonic() - started:.0f} s. Campaign {result.campaign_id}.")
    say(f"  This run in the Prefect UI:  {ui}/runs/flow-run/{flow_run_id}")
    say(f"  Artifacts:                   {ui}/artifacts")
    say(f"  Events (casey.call.*):       {ui}/events")
    say(f"  Deployments (Run by hand):   {ui}/deployments")
    say(f"  Sandbox API docs:            {sandbox_root}/docs")
    say("The report on this campaign runs on its own (automation on casey.campaign.completed),")
    say("and so does sync-calls/warehouse-sync (then every hour).")
    say("Sandbox, Prefect server and serve keep running for you to explore; `make down` stops")
    say("them.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
