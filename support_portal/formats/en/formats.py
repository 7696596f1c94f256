"""English as the network writes it: en-GB order (day/month/year) and a 24-hour clock.

Django's `en` formats are US ones (month first, a.m./p.m.); FORMAT_MODULE_PATH picks these.
"""

DATE_FORMAT = "j M Y"  # 2 Dec 2026
TIME_FORMAT = "H:i"  # 14:05
DATETIME_FORMAT = "j M Y, H:i"  # 2 Dec 2026, 14:05
YEAR_MONTH_FORMAT = "F Y"
MONTH_DAY_FORMAT = "j F"
SHORT_DATE_FORMAT = "d/m/Y"  # 02/12/2026
SHORT_DATETIME_FORMAT = "d/m/Y H:i"  # 02/12/2026 14:05
FIRST_DAY_OF_WEEK = 1  # Monday
DATE_INPUT_FORMATS = ["%d/%m/%Y", "%d/%m/%y", "%Y-%m-%d"]
DATETIME_INPUT_FORMATS = ["%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]
DECIMAL_SEPARATOR = "."
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
