"""NHS number, UPN, postcode and date checks."""

from datetime import date, datetime, timedelta, timezone

import pytest

from schemas import validators


class TestNhsNumber:
    @pytest.mark.parametrize("raw", ["9434765919", "943 476 5919", "943-476-5919", " 4010232137 "])
    def test_valid_numbers_normalise_to_ten_digits(self, raw):
        """Spaces and hyphens are removed from a number whose check digit is right."""
        assert validators.normalise_nhs_number(raw.strip()) == raw.strip().replace(" ", "").replace("-", "")

    @pytest.mark.parametrize("raw, why", [
        ("9434765910", "modulus-11"),
        ("943476591", "exactly 10 digits"),
        ("94347659190", "exactly 10 digits"),
        ("94347659A9", "exactly 10 digits"),
        ("1111111111", "repeated"),
    ])
    def test_invalid_numbers_say_why(self, raw, why):
        """A wrong check digit, length or character is refused with the reason."""
        with pytest.raises(ValueError, match=why):
            validators.normalise_nhs_number(raw)

    def test_check_digit_ten_is_never_valid(self):
        """A number whose check computes to 10 cannot be an NHS number."""
        # 123456789: weights give sum 210, 11 - 210 % 11 = 10
        assert "modulus-11" in validators.nhs_number_problem("1234567890")


class TestUpn:
    def test_valid_upn_is_accepted_and_upper_cased(self):
        """A UPN with the right check letter passes, in any case."""
        assert validators.normalise_upn("f801200100001") == "F801200100001"

    def test_wrong_check_letter_is_refused(self):
        """A mistyped UPN is caught by its check letter."""
        with pytest.raises(ValueError, match="check letter"):
            validators.normalise_upn("A801200100001")

    def test_wrong_shape_is_refused(self):
        """Too short, or letters where digits belong, is refused with the expected format."""
        with pytest.raises(ValueError, match="13 characters"):
            validators.normalise_upn("F80120010000")


class TestPostcode:
    @pytest.mark.parametrize("raw, expected", [("ld15lg", "LD1 5LG"), ("SA61 1TP", "SA61 1TP"), ("sy21  7dn", "SY21 7DN"), ("W1A 1AA", "W1A 1AA")])
    def test_postcodes_are_normalised(self, raw, expected):
        """Case and spacing are made canonical."""
        assert validators.normalise_postcode(raw) == expected

    def test_non_postcode_is_refused(self):
        """Text that is not a UK postcode is refused."""
        with pytest.raises(ValueError, match="not a UK postcode"):
            validators.normalise_postcode("Llandrindod")


class TestDates:
    def test_future_date_is_refused(self):
        """A date after today is an error."""
        with pytest.raises(ValueError, match="in the future"):
            validators.not_in_future_date(date.today() + timedelta(days=2))

    def test_small_clock_skew_is_tolerated(self):
        """A timestamp a minute ahead is accepted; an hour ahead is not."""
        now = datetime.now(timezone.utc)
        assert validators.not_in_future_timestamp(now + timedelta(minutes=1), now)
        with pytest.raises(ValueError, match="in the future"):
            validators.not_in_future_timestamp(now + timedelta(hours=1), now)

    def test_age_counts_whole_years(self):
        """Age goes up on the birthday, not before."""
        assert validators.age_in_years(date(2016, 5, 14), date(2026, 5, 13)) == 9
        assert validators.age_in_years(date(2016, 5, 14), date(2026, 5, 14)) == 10
