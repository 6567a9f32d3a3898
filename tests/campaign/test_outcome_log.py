"""OutcomeLog: every outcome to the CSV as it is added, exact counts, a bounded sample kept."""

from __future__ import annotations

import csv
import subprocess
import sys
import tempfile
from pathlib import Path

from casey_flows.campaign.models import CampaignResult, ContactOutcome
from casey_flows.campaign.outcome_log import (
    KEEP_ALL_UP_TO,
    KEEP_FIRST,
    TEMP_PREFIX,
    OutcomeLog,
)
from casey_flows.campaign.outcomes import Outcome
from casey_flows.exports import OUTCOME_COLUMNS


def phone(n: int) -> str:
    return f"+1202{2_000_000 + n:07d}"


def outcome(n: int, value: Outcome | str = Outcome.COMPLETED, **fields: object) -> ContactOutcome:
    return ContactOutcome(phone_number=phone(n), outcome=value, **fields)  # type: ignore[arg-type]


def rows(path: Path | str) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_each_outcome_is_on_disk_as_soon_as_it_is_added(tmp_path: Path) -> None:
    path = tmp_path / "out" / "outcomes.csv"
    log = OutcomeLog(path, full_numbers=True, flush_seconds=0)
    for n in range(3):
        log.add(outcome(n, Outcome.NO_ANSWER if n else Outcome.COMPLETED))
        assert [r["phone_number"] for r in rows(path)] == [phone(i) for i in range(n + 1)]
    log.close()
    with open(path, newline="", encoding="utf-8") as handle:
        assert next(csv.reader(handle)) == list(OUTCOME_COLUMNS)
    assert log.counts == {"no_answer": 2, "completed": 1}
    assert (log.total, log.complete, len(log.kept)) == (3, True, 3)


def test_a_small_campaign_keeps_every_outcome(tmp_path: Path) -> None:
    with OutcomeLog(tmp_path / "o.csv") as log:
        log.extend(outcome(n, ended_reason="customer-ended-call") for n in range(KEEP_ALL_UP_TO))
    result = log.fill(CampaignResult(campaign_id="small", connection_code="c"))
    assert result.outcomes_complete and result.total == len(result.outcomes) == KEEP_ALL_UP_TO
    assert result.counts == {"completed": KEEP_ALL_UP_TO}
    assert result.ended_reasons == {"customer-ended-call": KEEP_ALL_UP_TO}
    assert result.outcomes_csv == str((tmp_path / "o.csv").resolve())
    assert not result.outcomes_csv_temporary
    assert len(rows(tmp_path / "o.csv")) == KEEP_ALL_UP_TO


def test_crossing_the_limit_keeps_the_first_ones_and_every_problem(tmp_path: Path) -> None:
    problems = {
        3: Outcome.ERROR,
        KEEP_FIRST + 1: Outcome.UNCONFIRMED,
        KEEP_ALL_UP_TO - 1: Outcome.STILL_OPEN,
        KEEP_ALL_UP_TO + 7: Outcome.ERROR,
    }
    twice = {KEEP_FIRST + 10, KEEP_ALL_UP_TO + 100}
    total = KEEP_ALL_UP_TO + 2_000
    with OutcomeLog(tmp_path / "o.csv") as log:
        for n in range(total):
            dup = ["call-x"] if n in twice else []
            log.add(outcome(n, problems.get(n, Outcome.NO_ANSWER), duplicate_call_ids=dup))
    result = log.fill(CampaignResult(campaign_id="big", connection_code="c"))

    assert (result.total, result.outcomes_complete) == (total, False)
    assert result.counts == {"no_answer": total - 4, "error": 2, "unconfirmed": 1, "still_open": 1}
    kept = [o.phone_number for o in result.outcomes]
    later = sorted(n for n in {*problems, *twice} if n >= KEEP_FIRST)
    assert kept == [phone(n) for n in range(KEEP_FIRST)] + [phone(n) for n in later]
    assert {o.phone_number for o in result.dialled_twice} == {phone(n) for n in twice}
    assert len(result.by_outcome(Outcome.ERROR)) == 2
    assert "total  " in result.summary_table() and str(total) in result.summary_table()
    assert len(rows(tmp_path / "o.csv")) == total  # the CSV has every one


def test_without_a_path_a_masked_temporary_file_on_the_worker() -> None:
    with OutcomeLog(name="reminders/2026 11 27") as log:
        log.add(outcome(1, name="=HYPERLINK(1)"))
    try:
        assert log.temporary and log.path.parent == Path(tempfile.gettempdir()).resolve()
        assert log.path.name.startswith(f"{TEMP_PREFIX}reminders-2026-11-27-")
        [row] = rows(log.path)
        assert row["phone_number"] != phone(1) and row["phone_number"].endswith(phone(1)[-4:])
        assert row["name"] == "'=HYPERLINK(1)"  # neutralised, as every CSV of ours
        result = log.fill(CampaignResult(campaign_id="t", connection_code="c"))
        assert result.outcomes_csv_temporary and result.outcomes_csv == str(log.path)
    finally:
        log.path.unlink()


def test_raw_cells_and_full_numbers_when_asked(tmp_path: Path) -> None:
    with OutcomeLog(tmp_path / "raw.csv", full_numbers=True, raw_cells=True) as log:
        log.add(outcome(1, name="=1+1"))
    [row] = rows(tmp_path / "raw.csv")
    assert (row["phone_number"], row["name"]) == (phone(1), "=1+1")


def test_a_result_built_from_a_full_list_counts_it() -> None:
    result = CampaignResult(
        campaign_id="x",
        connection_code="c",
        outcomes=[outcome(1), outcome(2, Outcome.BUSY), outcome(3, Outcome.BUSY)],
    )
    assert result.counts == {"busy": 2, "completed": 1}
    assert (result.total, result.outcomes_complete) == (3, True)
    restored = CampaignResult.model_validate_json(result.model_dump_json())
    assert restored.counts == result.counts and restored.total == 3


def test_the_outcome_log_module_does_not_import_prefect() -> None:
    code = "import sys, casey_flows.campaign.outcome_log; sys.exit('prefect' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
