"""Between the contact stream and the dialler: who may be dialled, and every other row's outcome.

A :class:`Screening` reads a :class:`~casey_flows.campaign.contacts.ContactStream` one row at a
time and yields only the contacts that may be dialled; a rejected row or a suppressed number
goes to the outcome log as it is read, so no list of them is ever held. The same pass serves the
engine, the dry-run planner and, after a stop, the contacts nobody got to. No Prefect here.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

from casey_flows.campaign.contacts import Contact, ContactStream, RejectedRow
from casey_flows.campaign.line_types import LineTypes
from casey_flows.campaign.live_suppression import LiveSuppression
from casey_flows.campaign.models import ContactOutcome, rejected_outcome
from casey_flows.campaign.outcome_log import OutcomeLog
from casey_flows.campaign.outcomes import STOPPED, Outcome

# The suppression sources' names (``LiveSuppression`` says which one listed a number).
OPT_OUTS_SOURCE = "opt_outs"
PARAMETER_SOURCE = "parameter"
QUERY_SOURCE = "the do-not-call query"
LISTED_REASON = "on the suppression list"
OPTED_OUT_REASON = "opted out on an earlier call"


class Screening:
    """The stream's contacts that may be dialled, one pass, rejected, suppressed and
    line-type-excluded ones logged on the way (counted in ``rejected``, ``suppressed``,
    ``opted_out`` and ``excluded``)."""

    def __init__(
        self,
        stream: ContactStream,
        suppression: LiveSuppression,
        outcome_log: OutcomeLog,
        line_types: LineTypes | None = None,
    ) -> None:
        self.stream = stream
        self.suppression = suppression
        self.outcome_log = outcome_log
        self.line_types = line_types or LineTypes()
        self.rejected = 0
        self.suppressed = 0
        self.opted_out = 0
        self.excluded = 0
        self._since = datetime.max.replace(tzinfo=timezone.utc)  # set by the first read
        self._contacts = self._screen()

    def __iter__(self) -> Iterator[Contact]:
        """The one pass: iterating again goes on where the last one stopped."""
        return self._contacts

    @property
    def to_come(self) -> tuple[int, bool]:
        """Outcomes the campaign will have, and whether that is the total: the sources are read
        to their end, or they said how many rows they hold (less a duplicate found later). Else
        the rows read so far, duplicates aside: a floor."""
        stream = self.stream
        if stream.known_rows is not None and not stream.exhausted:
            return stream.known_rows - stream.duplicates, True
        return stream.total_rows - stream.duplicates, stream.exhausted

    def not_dialled(self) -> int:
        """After a stop: every contact not read yet, to the log as ``not_dialled`` (rejected
        and suppressed rows as such). Returns how many were not dialled."""
        count = 0
        for contact in self:
            self.outcome_log.add_not_dialled(contact, "not dialled: " + STOPPED)
            count += 1
        return count

    def _screen(self) -> Iterator[Contact]:
        # The first read comes after the list's first read: a number the list shows only from a
        # later read was listed mid-campaign.
        self._since = datetime.now(timezone.utc)
        for item in self.stream:
            if isinstance(item, RejectedRow):
                self.outcome_log.add(rejected_outcome(item))
                self.rejected += 1
                continue
            hit = self.suppression.check(item.phone_number)
            if hit is None:
                excluded = self.line_types.exclusion(item.line_type)
                if excluded is None:
                    yield item
                    continue
                self.outcome_log.add(ContactOutcome.of(item, Outcome.EXCLUDED, reason=excluded))
                self.excluded += 1
                continue
            if hit.seen_at >= self._since:  # listed since the campaign began: as at dial time
                reason = hit.dial_time_reason()
            else:
                reason = OPTED_OUT_REASON if hit.source == OPT_OUTS_SOURCE else LISTED_REASON
            self.outcome_log.add(ContactOutcome.of(item, Outcome.SUPPRESSED, reason=reason))
            self.suppressed += 1
            self.opted_out += hit.source == OPT_OUTS_SOURCE
