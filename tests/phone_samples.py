"""Valid phone numbers for tests: libphonenumber's own example number of every region and line
type (998 distinct E.164 numbers), so a property holds for numbers that can really be dialled."""

from __future__ import annotations

import phonenumbers
from hypothesis import strategies as st

VALID_NUMBERS = sorted(
    {
        phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
        for region in phonenumbers.SUPPORTED_REGIONS
        for line_type in range(phonenumbers.PhoneNumberType.VOICEMAIL + 1)
        if (example := phonenumbers.example_number_for_type(region, line_type)) is not None
        and phonenumbers.is_valid_number(example)
    }
)
VALID_E164 = st.sampled_from(VALID_NUMBERS)
