"""A teaching term at Peking University's scale of spring 2020, generated from a seed.

``forum seed-semester`` fills a database with what a timetable import would have made of
PKU's first online term: 4,437 courses taught by 2,800 teachers (60 of them abroad, in 31
countries on five continents) to 40,000 students, each course a weekly series of one or two
meetings on Zoom. Everything comes from ``random.Random(seed)``, so one seed gives the same
people, courses, sessions and meetings on any machine and backend (``digest`` says so in one
line); only ids and creation times differ.

It is written for size, not through the booking services: rows are plain tuples written in
bulk (COPY on PostgreSQL, executemany on SQLite) with ids reserved beforehand, so that no ORM
object exists per row, in the caller's one transaction. Booking's side effects are left out on
purpose: no invitation emails (the addresses are on a reserved demo domain), no provider calls
(each meeting is recorded as Zoom made it), no clash checks (the generator never gives a
teacher two courses at once). The term's calendar (holidays left out as EXDATEs) is the
timetable import's own: forum.timetables.calendar.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import random
import re
import time
import unicodedata
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from functools import lru_cache
from typing import Any

import sqlalchemy as sa

from forum.accounts.models import Organiser
from forum.accounts.services import create_organiser
from forum.accounts.services import find_organiser
from forum.core.errors import ForumError
from forum.core.times import format_instant
from forum.db import now_utc
from forum.directory.models import DEFAULT_ACCEPTABLE_HOURS
from forum.directory.models import DEFAULT_WORKING_HOURS
from forum.directory.models import Institution
from forum.directory.models import Person
from forum.events.models import DEFAULT_REMINDER_MINUTES
from forum.events.models import Event
from forum.events.models import EventParticipant
from forum.events.models import EventSession
from forum.events.models import Invitation
from forum.events.models import VideoMeeting
from forum.extensions import db
from forum.i18n import locale_for_country
from forum.providers import accounts as provider_accounts
from forum.providers.models import ProviderAccount
from forum.providers.zoom import recurrence_from_rrule
from forum.timetables import calendar
from forum.timetables.models import Term
from forum.timetables.models import TimetableImport

TERM_NAME = "Spring 2020"
FIRST_DAY = dt.date(2020, 2, 17)
HOME_ZONE = "Asia/Shanghai"
HOME_COUNTRY = "CN"
# Every address the seed makes ends with this (RFC 2606 reserves example.org): it is how a
# second run finds the first one's people, and no message can reach anyone.
EMAIL_DOMAIN = "semester.example.org"
SEED_ORGANISER_EMAIL = f"registrar@pku.{EMAIL_DOMAIN}"
ZOOM_ACCOUNT = "pku-zoom"
ZOOM_JOIN_BASE = "https://pku.zoom.us/j/"


class SeedRefused(ForumError):
    """The database already holds a seeded semester, or an option is out of range."""

    status = 409
    code = "seeded"


@dataclass(frozen=True)
class Size:
    """How much to generate; the defaults are PKU's spring 2020."""

    courses: int = 4437
    teachers: int = 2800
    abroad: int = 60
    students: int = 40000
    per_student: int = 5
    weeks: int = 16
    seed: int = 2020

    def problems(self) -> dict[str, str]:
        """What is wrong with the sizes, by option name (empty when they can be generated)."""
        found = {}
        if self.courses < 1:
            found["courses"] = "at least 1"
        if self.teachers < 1:
            found["teachers"] = "at least 1"
        if not 0 <= self.abroad <= self.teachers:
            found["abroad"] = "from 0 to the number of teachers"
        if self.students < 0:
            found["students"] = "at least 0"
        if not 1 <= self.per_student <= self.courses:
            found["per-student"] = "from 1 to the number of courses"
        if not 1 <= self.weeks <= 60:
            found["weeks"] = "from 1 to 60"
        return found


# --- the world -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    name: str
    short_name: str
    country: str
    timezone: str
    city: str
    continent: str
    names: str  # the name pool its people's names come from

    @property
    def domain(self) -> str:
        return re.sub(r"[^a-z0-9]", "", self.short_name.lower()) + "." + EMAIL_DOMAIN


HOME = Site("Peking University", "PKU", "CN", HOME_ZONE, "Beijing", "Asia", "zh")

# One university per country first (31 countries, five continents), then more in the
# countries most of PKU's teachers abroad were in; real universities, real zones.
# fmt: off
ABROAD_SITES = (
    Site("University of Tokyo", "UTokyo", "JP", "Asia/Tokyo", "Tokyo", "Asia", "ja"),
    Site("Seoul National University", "SNU", "KR", "Asia/Seoul", "Seoul", "Asia", "ko"),
    Site("National University of Singapore", "NUS", "SG", "Asia/Singapore", "Singapore",
         "Asia", "sg"),
    Site("Qatar University", "QU", "QA", "Asia/Qatar", "Doha", "Asia", "ar"),
    Site("Indian Institute of Science", "IISc", "IN", "Asia/Kolkata", "Bengaluru", "Asia",
         "hi"),
    Site("Hebrew University of Jerusalem", "HUJI", "IL", "Asia/Jerusalem", "Jerusalem", "Asia",
         "he"),
    Site("Chulalongkorn University", "Chula", "TH", "Asia/Bangkok", "Bangkok", "Asia", "th"),
    Site("University of Malaya", "UM", "MY", "Asia/Kuala_Lumpur", "Kuala Lumpur", "Asia",
         "ms"),
    Site("Khalifa University", "Khalifa", "AE", "Asia/Dubai", "Abu Dhabi", "Asia", "ar"),
    Site("Universitas Indonesia", "UI", "ID", "Asia/Jakarta", "Depok", "Asia", "id"),
    Site("University of Cambridge", "Cambridge", "GB", "Europe/London", "Cambridge", "Europe",
         "en"),
    Site("Sorbonne University", "Sorbonne", "FR", "Europe/Paris", "Paris", "Europe", "fr"),
    Site("Heidelberg University", "Heidelberg", "DE", "Europe/Berlin", "Heidelberg", "Europe",
         "de"),
    Site("Leiden University", "Leiden", "NL", "Europe/Amsterdam", "Leiden", "Europe", "nl"),
    Site("ETH Zurich", "ETH", "CH", "Europe/Zurich", "Zurich", "Europe", "de"),
    Site("University of Bologna", "UNIBO", "IT", "Europe/Rome", "Bologna", "Europe", "it"),
    Site("University of Barcelona", "UB", "ES", "Europe/Madrid", "Barcelona", "Europe", "es"),
    Site("Uppsala University", "Uppsala", "SE", "Europe/Stockholm", "Uppsala", "Europe", "sv"),
    Site("University of Copenhagen", "UCPH", "DK", "Europe/Copenhagen", "Copenhagen",
         "Europe", "da"),
    Site("Lomonosov Moscow State University", "MSU", "RU", "Europe/Moscow", "Moscow", "Europe",
         "ru"),
    Site("KU Leuven", "KU Leuven", "BE", "Europe/Brussels", "Leuven", "Europe", "nl"),
    Site("Trinity College Dublin", "TCD", "IE", "Europe/Dublin", "Dublin", "Europe", "en"),
    Site("University of Helsinki", "UH", "FI", "Europe/Helsinki", "Helsinki", "Europe", "fi"),
    Site("University of Michigan", "UMich", "US", "America/Detroit", "Ann Arbor",
         "North America", "en"),
    Site("University of Toronto", "U of T", "CA", "America/Toronto", "Toronto",
         "North America", "en"),
    Site("National Autonomous University of Mexico", "UNAM", "MX", "America/Mexico_City",
         "Mexico City", "North America", "es"),
    Site("University of Sydney", "USYD", "AU", "Australia/Sydney", "Sydney", "Oceania", "en"),
    Site("University of Auckland", "UoA", "NZ", "Pacific/Auckland", "Auckland", "Oceania",
         "en"),
    Site("University of Cape Town", "UCT", "ZA", "Africa/Johannesburg", "Cape Town", "Africa",
         "za"),
    Site("Cairo University", "CU", "EG", "Africa/Cairo", "Giza", "Africa", "ar"),
    Site("University of Nairobi", "UoN", "KE", "Africa/Nairobi", "Nairobi", "Africa", "ke"),
    Site("Harvard University", "Harvard", "US", "America/New_York", "Cambridge, MA",
         "North America", "en"),
    Site("Stanford University", "Stanford", "US", "America/Los_Angeles", "Stanford",
         "North America", "en"),
    Site("University of Chicago", "UChicago", "US", "America/Chicago", "Chicago",
         "North America", "en"),
    Site("University of Oxford", "Oxford", "GB", "Europe/London", "Oxford", "Europe", "en"),
    Site("Kyoto University", "KyotoU", "JP", "Asia/Tokyo", "Kyoto", "Asia", "ja"),
    Site("University of Melbourne", "UniMelb", "AU", "Australia/Melbourne", "Melbourne",
         "Oceania", "en"),
    Site("University of British Columbia", "UBC", "CA", "America/Vancouver", "Vancouver",
         "North America", "en"),
    Site("Columbia University", "Columbia", "US", "America/New_York", "New York",
         "North America", "en"),
)

# (given names, family names) per pool; Chinese names are written as the demo writes them.
NAME_POOLS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "en": (("James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda",
            "David", "Elizabeth", "Sarah", "Thomas", "Emma", "Daniel", "Laura", "Andrew",
            "Rachel", "Peter", "Helen", "Mark"),
           ("Smith", "Johnson", "Brown", "Taylor", "Miller", "Wilson", "Anderson", "Clark",
            "Walker", "Young", "Wright", "Hughes", "Evans", "Roberts", "Campbell", "Murphy")),
    "ja": (("Hiroshi", "Takeshi", "Yuko", "Keiko", "Kenji", "Naoko", "Akira", "Yumi",
            "Satoshi", "Haruka", "Daisuke", "Megumi"),
           ("Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura",
            "Kobayashi", "Kato")),
    "ko": (("Min-jun", "Seo-yeon", "Ji-hoon", "Ji-woo", "Hyun-woo", "Soo-jin", "Dong-hyun",
            "Eun-ji"),
           ("Kim", "Lee", "Park", "Choi", "Jung", "Kang", "Cho", "Yoon")),
    "sg": (("Wei Ling", "Jun Jie", "Hui Min", "Kai Xiang", "Mei Ling", "Zhi Hao"),
           ("Tan", "Lim", "Lee", "Ng", "Ong", "Wong", "Goh", "Chua")),
    "ar": (("Ahmed", "Fatima", "Omar", "Mariam", "Khalid", "Noor", "Hassan", "Aisha"),
           ("Al-Thani", "Al-Kuwari", "Hassan", "Ibrahim", "Mansour", "Saleh", "El-Sayed",
            "Mahmoud")),
    "hi": (("Aarav", "Priya", "Rahul", "Ananya", "Vikram", "Kavya"),
           ("Sharma", "Patel", "Iyer", "Reddy", "Gupta", "Nair")),
    "he": (("Noa", "Yossi", "Tamar", "Eitan", "Michal", "Avi"),
           ("Cohen", "Levi", "Mizrahi", "Peretz", "Biton", "Friedman")),
    "th": (("Somchai", "Siriporn", "Anan", "Malee", "Nattapong", "Kanya"),
           ("Srisuk", "Wongsawat", "Chaiyaporn", "Rattanakul", "Boonmee", "Saetang")),
    "ms": (("Ahmad", "Nurul", "Farid", "Siti", "Hafiz", "Aisyah"),
           ("Abdullah", "Ismail", "Rahman", "Hashim", "Osman", "Yusof")),
    "id": (("Budi", "Dewi", "Agus", "Sri", "Rizky", "Putri"),
           ("Santoso", "Wijaya", "Hidayat", "Saputra", "Kusuma", "Pratama")),
    "fr": (("Camille", "Julien", "Hélène", "François", "Chloé", "Nicolas", "Claire",
            "Antoine"),
           ("Martin", "Bernard", "Dubois", "Lefèvre", "Moreau", "Laurent", "Girard", "Roux")),
    "de": (("Lukas", "Anna", "Jonas", "Katharina", "Felix", "Julia", "Matthias", "Jürgen"),
           ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Wagner", "Becker",
            "Hoffmann")),
    "nl": (("Daan", "Sanne", "Pieter", "Eva", "Joost", "Lotte"),
           ("de Jong", "Jansen", "de Vries", "van den Berg", "Bakker", "Peeters")),
    "it": (("Giulia", "Marco", "Francesca", "Luca", "Chiara", "Alessandro"),
           ("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano")),
    "es": (("Lucía", "Javier", "María", "Carlos", "Elena", "Alejandro"),
           ("García", "Fernández", "López", "Martínez", "Sánchez", "Pérez")),
    "sv": (("Erik", "Anna", "Lars", "Karin", "Johan", "Maria"),
           ("Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson")),
    "da": (("Søren", "Mette", "Anders", "Louise", "Mads", "Camilla"),
           ("Nielsen", "Jensen", "Hansen", "Pedersen", "Andersen", "Christensen")),
    "fi": (("Mikko", "Anna", "Juha", "Laura", "Antti", "Sanna"),
           ("Korhonen", "Virtanen", "Mäkinen", "Nieminen", "Mäkelä", "Hämäläinen")),
    "ru": (("Alexei", "Dmitry", "Sergei", "Andrei", "Mikhail", "Ivan"),
           ("Ivanov", "Smirnov", "Kuznetsov", "Popov", "Sokolov", "Lebedev")),
    "za": (("Thabo", "Nomvula", "Sipho", "Lerato", "Pieter", "Sarah"),
           ("Nkosi", "Dlamini", "Naidoo", "van der Merwe", "Botha", "Mokoena")),
    "ke": (("Wanjiru", "Otieno", "Achieng", "Kamau", "Njeri", "Kiprop"),
           ("Mwangi", "Ochieng", "Kariuki", "Wambui", "Kipchoge", "Odhiambo")),
}

# Chinese family names with rough weights (the commonest first), and given names made of
# two syllables as most are ("Zihan", "Yuxuan", "Haoran").
FAMILY_NAMES_ZH = (
    ("Wang", 71), ("Li", 70), ("Zhang", 66), ("Liu", 53), ("Chen", 45), ("Yang", 31),
    ("Huang", 22), ("Zhao", 21), ("Wu", 20), ("Zhou", 19), ("Xu", 13), ("Sun", 11), ("Ma", 11),
    ("Zhu", 10), ("Hu", 10), ("Guo", 10), ("He", 9), ("Gao", 9), ("Lin", 9), ("Luo", 8),
    ("Zheng", 8), ("Liang", 7), ("Xie", 6), ("Song", 5), ("Tang", 5), ("Han", 5), ("Feng", 4),
    ("Deng", 4), ("Cao", 4), ("Peng", 4), ("Zeng", 4), ("Xiao", 4), ("Tian", 4), ("Dong", 4),
    ("Yuan", 3), ("Pan", 3), ("Yu", 3), ("Jiang", 3), ("Cai", 3), ("Du", 3), ("Ye", 3),
    ("Cheng", 3), ("Wei", 3), ("Su", 3), ("Lyu", 3), ("Ding", 3), ("Ren", 3), ("Shen", 3),
    ("Yao", 3), ("Lu", 3), ("Cui", 2), ("Zhong", 2), ("Tan", 2), ("Fan", 2), ("Jin", 2),
    ("Shi", 2), ("Liao", 2), ("Jia", 2), ("Xia", 2), ("Fu", 2), ("Fang", 2), ("Bai", 2),
    ("Zou", 2), ("Meng", 2), ("Xiong", 2), ("Qin", 2), ("Qiu", 2), ("Yin", 2), ("Xue", 2),
    ("Yan", 2), ("Duan", 2), ("Lei", 1), ("Hou", 1), ("Long", 1), ("Tao", 1), ("Gu", 1),
    ("Mao", 1), ("Hao", 1), ("Gong", 1), ("Shao", 1), ("Qian", 1), ("Dai", 1), ("Kong", 1),
)
GIVEN_FIRST_ZH = (
    "Zi", "Yu", "Hao", "Xin", "Jia", "Yi", "Si", "Ming", "Wen", "Jun", "Xiao", "Tian", "Yun",
    "Chen", "Rui", "Meng", "Shu", "Ya", "Jing", "Zhi", "Hong", "Li", "Xue", "Le", "Qian",
    "Yan", "Kai", "Bo", "Ze", "An", "Guo", "Hai", "Chun", "Jian", "Lu", "Pei",
)
GIVEN_SECOND_ZH = (
    "han", "xuan", "ran", "yu", "yi", "hang", "chen", "ting", "jie", "rui", "qi", "nan",
    "ning", "yang", "wei", "tong", "lin", "hui", "xin", "feng", "yao", "hua", "jing", "kang",
    "lan", "min", "peng", "tao", "wen", "zhe", "qing", "fei", "song", "yue", "di", "bin",
)

# Schools of PKU: a three-digit prefix of their course codes, and the subjects they teach.
DEPARTMENTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("001", "School of Mathematical Sciences",
     ("Advanced Algebra", "Mathematical Analysis", "Probability Theory",
      "Ordinary Differential Equations", "Real Analysis", "Numerical Analysis",
      "Abstract Algebra", "Topology", "Mathematical Statistics", "Complex Analysis",
      "Stochastic Processes", "Optimisation Methods", "Advanced Mathematics (B)")),
    ("004", "School of Physics",
     ("Mechanics", "Electromagnetism", "Thermodynamics and Statistical Physics",
      "Quantum Mechanics", "Optics", "Atomic Physics", "Solid State Physics",
      "Mathematical Methods of Physics", "General Relativity", "Computational Physics",
      "General Physics")),
    ("010", "College of Chemistry and Molecular Engineering",
     ("General Chemistry", "Organic Chemistry", "Physical Chemistry", "Analytical Chemistry",
      "Inorganic Chemistry", "Structural Chemistry", "Polymer Chemistry",
      "Chemical Biology")),
    ("011", "School of Life Sciences",
     ("Cell Biology", "Genetics", "Biochemistry", "Molecular Biology", "Ecology",
      "Neurobiology", "Microbiology", "Developmental Biology")),
    ("012", "School of Earth and Space Sciences",
     ("Introduction to Geology", "Geophysics", "Atmospheric Physics", "Planetary Science",
      "Remote Sensing", "Seismology")),
    ("013", "College of Urban and Environmental Sciences",
     ("Physical Geography", "Urban Planning", "Environmental Science", "Landscape Ecology",
      "Human Geography")),
    ("048", "School of Electronics Engineering and Computer Science",
     ("Introduction to Computing", "Data Structures and Algorithms", "Computer Systems",
      "Operating Systems", "Compiler Principles", "Computer Networks",
      "Artificial Intelligence", "Machine Learning", "Digital Logic", "Signals and Systems",
      "Database Systems", "Software Engineering", "Computer Vision",
      "Natural Language Processing")),
    ("086", "College of Engineering",
     ("Theoretical Mechanics", "Fluid Mechanics", "Materials Science", "Control Theory",
      "Robotics", "Biomedical Engineering")),
    ("021", "School of Economics",
     ("Microeconomics", "Macroeconomics", "Econometrics", "Public Finance",
      "International Economics", "History of Economic Thought", "Development Economics")),
    ("022", "Guanghua School of Management",
     ("Accounting", "Corporate Finance", "Marketing", "Organisational Behaviour",
      "Operations Management", "Investments", "Business Strategy")),
    ("016", "Law School",
     ("Jurisprudence", "Constitutional Law", "Civil Law", "Criminal Law", "Commercial Law",
      "International Law", "Administrative Law", "Intellectual Property Law")),
    ("017", "School of Government",
     ("Introduction to Political Science", "Public Administration", "Comparative Politics",
      "Public Policy Analysis")),
    ("018", "School of International Studies",
     ("International Relations", "Chinese Foreign Policy", "International Political Economy",
      "Diplomatic History", "Politics of Southeast Asia")),
    ("015", "Department of Sociology",
     ("Introduction to Sociology", "Social Research Methods", "Social Stratification",
      "Urban Sociology", "Social Anthropology")),
    ("019", "School of Psychological and Cognitive Sciences",
     ("General Psychology", "Cognitive Psychology", "Developmental Psychology",
      "Social Psychology", "Statistics for Psychology")),
    ("020", "Department of Chinese Language and Literature",
     ("Classical Chinese", "History of Chinese Literature", "Modern Chinese",
      "Literary Theory", "Tang Poetry", "Chinese Linguistics")),
    ("023", "Department of History",
     ("Ancient Chinese History", "Modern Chinese History", "History of World Civilisations",
      "Historiography", "History of the Song Dynasty")),
    ("024", "Department of Philosophy",
     ("Introduction to Philosophy", "Chinese Philosophy", "Western Philosophy", "Logic",
      "Ethics", "Philosophy of Science", "Aesthetics")),
    ("039", "School of Foreign Languages",
     ("College English", "English Writing", "Japanese", "French", "German", "Russian",
      "Arabic", "Spanish", "Translation Studies")),
    ("042", "School of Arts",
     ("Art History", "Film Studies", "Music Appreciation", "Introduction to Theatre")),
    ("061", "School of Marxism",
     ("Outline of Modern Chinese History", "Basic Principles of Marxism", "Ethics and Law",
      "Introduction to Mao Zedong Thought")),
    ("025", "School of Journalism and Communication",
     ("Introduction to Communication", "News Writing", "Media and Society",
      "Data Journalism")),
    ("026", "Department of Information Management",
     ("Information Retrieval", "Library Science", "Archives Management")),
    ("030", "National School of Development",
     ("Economic Development of China", "The Chinese Economy", "Health Economics")),
    ("101", "School of Basic Medical Sciences",
     ("Human Anatomy", "Physiology", "Pathology", "Pharmacology", "Medical Immunology")),
    ("095", "Department of Physical Education",
     ("Physical Education: Basketball", "Physical Education: Swimming",
      "Physical Education: Taijiquan", "Physical Education: Badminton",
      "Physical Education: Table Tennis")),
)
# fmt: on
# Courses every student takes some of: their sections are many and full.
REQUIRED_OF_ALL = ("039", "061", "095")
TITLE_FORMS = (("{}", 10), ("{} I", 3), ("{} II", 3), ("Seminar: {}", 2), ("Topics in {}", 2))
RANKS = (("Professor", 3), ("Associate Professor", 4), ("Assistant Professor", 2), ("Lecturer", 2))
STUDENT_KINDS = (("Undergraduate", 16), ("Master's student", 14), ("Doctoral student", 10))
# The class periods of PKU's day (local starts), how often a course is put in each, and the
# lengths of a meeting: one class hour, or two with the break between them.
PERIODS = (dt.time(8, 0), dt.time(10, 10), dt.time(13, 0), dt.time(15, 10), dt.time(18, 40))
PERIOD_WEIGHTS = (20, 24, 20, 24, 12)
LENGTHS = ((50, 2), (100, 2), (110, 6))
# A course meeting twice a week meets on one of these pairs of weekdays (Monday 0).
TWO_DAYS = ((0, 2), (1, 3), (2, 4), (0, 3), (1, 4))
SECOND_MEETING_SHARE = 0.4
SECOND_TEACHER_SHARE = 0.3
HALF_TERM_SHARE = 0.1


# --- what is generated --------------------------------------------------------------------------


@dataclass
class PersonRow:
    name: str
    email: str
    site: Site
    role_title: str
    department: int


@dataclass
class Course:
    code: str
    title: str
    department: int
    slots: list[tuple[int, int]]  # (weekday, period index)
    minutes: int
    weeks: tuple[int, ...]
    teachers: list[int] = field(default_factory=list)  # indexes into Plan.people
    students: list[int] = field(default_factory=list)


@dataclass
class Plan:
    """The whole term as plain data, before anything is written."""

    size: Size
    people: list[PersonRow]  # teachers abroad, teachers in Beijing, students
    teachers: int
    courses: list[Course]


def ascii_slug(text: str) -> str:
    """A name as the local part of an address: "Søren Müller" -> "soren.muller"."""
    text = text.lower().translate(str.maketrans({"ø": "o", "æ": "ae", "ß": "ss", "ł": "l"}))
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", ".", text).strip(".")


def _weighted(pairs: Sequence[tuple[Any, int]]) -> tuple[list[Any], list[int]]:
    values = [value for value, _weight in pairs]
    cumulative, total = [], 0
    for _value, weight in pairs:
        total += weight
        cumulative.append(total)
    return values, cumulative


def plan_term(size: Size) -> Plan:
    """The term for ``size``: people, courses, their slots, teachers and students."""
    rng = random.Random(size.seed)
    departments = list(range(len(DEPARTMENTS)))
    department_weights = [len(topics) for _code, _name, topics in DEPARTMENTS]

    # Teachers: those abroad first (one university per country before a second in any),
    # then those in Beijing; then the students, all at PKU.
    sites = _by_continent_in_turn(ABROAD_SITES[:31])
    extra = list(ABROAD_SITES[31:]) + list(ABROAD_SITES[:31])
    rng.shuffle(extra)
    while len(sites) < size.abroad:
        sites.extend(extra)
    people: list[PersonRow] = []
    taken: set[str] = set()
    families, family_cumulative = _weighted(FAMILY_NAMES_ZH)
    ranks, rank_cumulative = _weighted(RANKS)
    kinds, kind_cumulative = _weighted(STUDENT_KINDS)

    def chinese_name() -> tuple[str, str]:
        given = rng.choice(GIVEN_FIRST_ZH) + rng.choice(GIVEN_SECOND_ZH)
        return given, rng.choices(families, cum_weights=family_cumulative)[0]

    def address(given: str, family: str, domain: str) -> str:
        local = ascii_slug(f"{given} {family}")
        candidate, n = local, 1
        while f"{candidate}@{domain}" in taken:
            n += 1
            candidate = f"{local}.{n}"
        taken.add(f"{candidate}@{domain}")
        return f"{candidate}@{domain}"

    for n in range(size.teachers):
        site = sites[n] if n < size.abroad else HOME
        if site.names == "zh":
            given, family = chinese_name()
        else:
            given_names, family_names = NAME_POOLS[site.names]
            given, family = rng.choice(given_names), rng.choice(family_names)
        department = rng.choices(departments, weights=department_weights)[0]
        rank = rng.choices(ranks, cum_weights=rank_cumulative)[0]
        people.append(
            PersonRow(
                name=f"{given} {family}",
                email=address(
                    given, family, f"pku.{EMAIL_DOMAIN}" if site is HOME else site.domain
                ),
                site=site,
                role_title=f"{rank}, {DEPARTMENTS[department][1]}",
                department=department,
            )
        )
    student_domain = f"stu.pku.{EMAIL_DOMAIN}"
    for n in range(size.students):
        given, family = chinese_name()
        department = rng.choices(departments, weights=department_weights)[0]
        kind = rng.choices(kinds, cum_weights=kind_cumulative)[0]
        # A student number as PKU's: the year of entry, then a serial (unique by n).
        year = {"Undergraduate": 16, "Master's student": 18, "Doctoral student": 17}[kind]
        year += rng.randrange(3 if kind != "Master's student" else 2)
        people.append(
            PersonRow(
                name=f"{given} {family}",
                email=f"{year}{n + 1:08d}@{student_domain}",
                site=HOME,
                role_title=f"{kind}, {DEPARTMENTS[department][1]}",
                department=department,
            )
        )

    courses = _courses(rng, size, department_weights)
    _assign_teachers(rng, courses, people[: size.teachers])
    _assign_students(rng, size, courses)
    return Plan(size=size, people=people, teachers=size.teachers, courses=courses)


def _by_continent_in_turn(sites: Sequence[Site]) -> list[Site]:
    """The sites taking the continents in turn, so that a few teachers abroad are already
    spread over the world."""
    continents: dict[str, list[Site]] = {}
    for site in sites:
        continents.setdefault(site.continent, []).append(site)
    spread: list[Site] = []
    while any(continents.values()):
        for queue in continents.values():
            if queue:
                spread.append(queue.pop(0))
    return spread


def _courses(rng: random.Random, size: Size, department_weights: list[int]) -> list[Course]:
    departments = list(range(len(DEPARTMENTS)))
    forms, form_cumulative = _weighted(TITLE_FORMS)
    lengths, length_cumulative = _weighted(LENGTHS)
    serials: dict[int, int] = {}
    titles: dict[str, int] = {}
    courses = []
    half = size.weeks // 2
    for _n in range(size.courses):
        department = rng.choices(departments, weights=department_weights)[0]
        code_prefix, _name, topics = DEPARTMENTS[department]
        serial = serials[department] = serials.get(department, -1) + 1
        code = f"{code_prefix}{10000 + 10 * serial + rng.randrange(10):05d}"
        title = rng.choices(forms, cum_weights=form_cumulative)[0].format(rng.choice(topics))
        titles[title] = titles.get(title, 0) + 1
        if titles[title] > 1:
            title = f"{title} (class {titles[title]})"
        period = rng.choices(range(len(PERIODS)), weights=PERIOD_WEIGHTS)[0]
        if rng.random() < SECOND_MEETING_SHARE:
            first, second = rng.choice(TWO_DAYS)
            slots = [(first, period), (second, period)]
        else:
            slots = [(rng.randrange(5), period)]
        weeks = tuple(range(1, size.weeks + 1))
        if half >= 4 and rng.random() < HALF_TERM_SHARE:
            weeks = weeks[:half] if rng.random() < 0.5 else weeks[half:]
        courses.append(
            Course(
                code=code,
                title=title,
                department=department,
                slots=slots,
                minutes=rng.choices(lengths, cum_weights=length_cumulative)[0],
                weeks=weeks,
            )
        )
    return courses


def _assign_teachers(rng: random.Random, courses: list[Course], teachers: list[PersonRow]) -> None:
    """One or two teachers a course, never one in two places at once; every teacher teaches
    if there are courses enough, those abroad first."""
    busy: list[set[tuple[int, int]]] = [set() for _ in teachers]
    by_department: dict[int, list[int]] = {}
    for index, teacher in enumerate(teachers):
        by_department.setdefault(teacher.department, []).append(index)
    open_courses: dict[int, list[int]] = {}
    for index, course in enumerate(courses):
        open_courses.setdefault(course.department, []).append(index)
    for pool in open_courses.values():
        rng.shuffle(pool)

    def give(course: Course, teacher: int) -> None:
        course.teachers.append(teacher)
        busy[teacher].update(course.slots)

    # Each teacher a course of their own school where one is left, else any.
    for index, teacher in enumerate(teachers):
        pool = open_courses.get(teacher.department) or next(
            (p for _d, p in sorted(open_courses.items()) if p), None
        )
        if not pool:
            break
        give(courses[pool.pop()], index)

    def free_teacher(course: Course) -> int:
        pool = by_department.get(course.department) or list(range(len(teachers)))
        for candidates in (pool, range(len(teachers))):
            candidates = list(candidates)
            for _try in range(30):
                teacher = rng.choice(candidates)
                if teacher not in course.teachers and not busy[teacher] & set(course.slots):
                    return teacher
        free = [
            t
            for t in range(len(teachers))
            if t not in course.teachers and not busy[t] & set(course.slots)
        ]
        return rng.choice(free) if free else rng.randrange(len(teachers))

    for course in courses:
        if not course.teachers:
            give(course, free_teacher(course))
    for course in courses:
        if len(teachers) > 1 and rng.random() < SECOND_TEACHER_SHARE:
            teacher = free_teacher(course)
            if teacher not in course.teachers:
                give(course, teacher)


def _assign_students(rng: random.Random, size: Size, courses: list[Course]) -> None:
    """About ``per_student`` courses each (one fewer or more for half of them), none at the
    same time as another; popular courses fill, seminars stay small."""
    weights = []
    for course in courses:
        weight = min(rng.paretovariate(1.3), 40.0)
        if DEPARTMENTS[course.department][0] in REQUIRED_OF_ALL:
            weight *= 2
        weights.append(weight)
    cumulative, total = [], 0.0
    for weight in weights:
        total += weight
        cumulative.append(total)
    indexes = range(len(courses))
    first_student = size.teachers
    for n in range(size.students):
        wanted = size.per_student + rng.choices((-1, 0, 1), weights=(1, 2, 1))[0]
        wanted = max(1, min(wanted, len(courses)))
        chosen: list[int] = []
        busy: set[tuple[int, int]] = set()
        for _try in range(wanted * 12):
            if len(chosen) == wanted:
                break
            course = rng.choices(indexes, cum_weights=cumulative)[0]
            slots = courses[course].slots
            if course in chosen or busy.intersection(slots):
                continue
            chosen.append(course)
            busy.update(slots)
        for course in sorted(chosen):
            courses[course].students.append(first_student + n)


# --- writing it -------------------------------------------------------------------------------


@dataclass
class SeedReport:
    organiser_email: str = ""
    organiser_created: bool = False
    term_id: int = 0
    institutions_created: int = 0
    institutions_reused: int = 0
    teachers: int = 0
    teachers_abroad: int = 0
    abroad_countries: int = 0
    abroad_continents: int = 0
    students: int = 0
    courses: int = 0
    sessions: int = 0
    participants: int = 0
    invitations: int = 0
    meetings: int = 0
    holiday_dates: list[dict[str, str]] = field(default_factory=list)
    sessions_with_holidays: int = 0
    zoom_account: str = ""
    zoom_hosts: int = 0
    replaced: dict[str, int] = field(default_factory=dict)
    # Whose feeds and which courses' calendars the write touched, the replaced ones with
    # them: the caller tells the feed cache after the commit.
    person_ids: list[int] = field(default_factory=list)
    event_ids: list[int] = field(default_factory=list)
    seconds: float = 0.0


class _Writer:
    """Rows written in bulk on the session's connection, inside its transaction."""

    def __init__(self, connection: sa.Connection) -> None:
        self.connection = connection
        self.postgresql = connection.dialect.name == "postgresql"

    def reserve_ids(self, table: sa.Table, count: int) -> list[int]:
        """``count`` new ids of ``table``. PostgreSQL hands them out of the table's sequence,
        so that other writers never meet them; on SQLite the caller holds the write lock
        (it has written in this transaction), so the ids after the largest are free."""
        if count == 0:
            return []
        if self.postgresql:
            rows = self.connection.execute(
                sa.text(
                    "SELECT nextval(pg_get_serial_sequence(:table, 'id')) "
                    "FROM generate_series(1, :count)"
                ),
                {"table": table.name, "count": count},
            )
            return [row[0] for row in rows]
        largest = self.connection.scalar(sa.select(sa.func.max(table.c.id))) or 0
        return list(range(largest + 1, largest + 1 + count))

    def insert(self, table: sa.Table, columns: Sequence[str], rows: Iterable[tuple]) -> None:
        if self.postgresql:
            self._copy(table, columns, rows)
            return
        batch: list[dict[str, Any]] = []
        statement = table.insert()
        for row in rows:
            batch.append(dict(zip(columns, row, strict=True)))
            if len(batch) == 20000:
                self.connection.execute(statement, batch)
                batch = []
        if batch:
            self.connection.execute(statement, batch)

    def _copy(self, table: sa.Table, columns: Sequence[str], rows: Iterable[tuple]) -> None:
        # COPY's text format takes JSON as its text; the driver writes the rest.
        json_at = [i for i, name in enumerate(columns) if isinstance(table.c[name].type, sa.JSON)]
        names = ", ".join(f'"{name}"' for name in columns)
        cursor = self.connection.connection.driver_connection.cursor()
        try:
            with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
                for row in rows:
                    if json_at:
                        row = list(row)
                        for i in json_at:
                            row[i] = json.dumps(row[i], separators=(",", ":"))
                    copy.write_row(row)
        finally:
            cursor.close()


def existing_seed(*, organiser_email: str | None, zoom_account: str) -> dict[str, Any]:
    """What of a seeded semester the database holds: its terms, people and Zoom account."""
    found: dict[str, Any] = {}
    candidates = [find_organiser(SEED_ORGANISER_EMAIL), _demo_organiser()]
    if organiser_email:
        candidates.append(find_organiser(organiser_email))
    organisers = [o.id for o in candidates if o is not None]
    terms = db.session.scalars(
        sa.select(Term.id).where(Term.name == TERM_NAME, Term.owner_id.in_(organisers))
    ).all()
    if terms:
        found["terms"] = list(terms)
    people = db.session.scalar(
        sa.select(sa.func.count(Person.id)).where(_seeded_email(Person.email))
    )
    if people:
        found["people"] = people
    if db.session.scalar(sa.select(ProviderAccount.id).where(ProviderAccount.name == zoom_account)):
        found["zoom_account"] = zoom_account
    return found


def _seeded_email(column: Any) -> Any:
    return sa.func.lower(column).like(f"%.{EMAIL_DOMAIN}")


def _demo_organiser() -> Organiser | None:
    from forum.demo.seed import DEMO_ORGANISER_EMAIL

    return find_organiser(DEMO_ORGANISER_EMAIL)


def remove_seed(found: dict[str, Any]) -> tuple[dict[str, int], list[int], list[int]]:
    """Delete a seeded semester: its terms' courses (sessions, invitations, meetings,
    participants), the terms, the people on the seed's domain, the seed's Zoom account.

    Plain DELETEs, dependent rows first, so that the database's cascades find nothing left
    to do row by row. Institutions stay: they are the directory's, and may have been there
    before. A seeded person invited to something else since stops it (the error says so).
    Returns the rows deleted per table, and the ids of the people and courses deleted.
    """
    counts: dict[str, int] = {}
    connection = db.session.connection()
    term_ids = found.get("terms", [])
    person_ids = list(db.session.scalars(sa.select(Person.id).where(_seeded_email(Person.email))))
    event_ids = list(db.session.scalars(sa.select(Event.id).where(Event.term_id.in_(term_ids))))
    courses = sa.select(Event.id).where(Event.term_id.in_(term_ids)).scalar_subquery()
    sessions = (
        sa.select(EventSession.id).where(EventSession.event_id.in_(courses)).scalar_subquery()
    )
    for label, statement in (
        ("invitations", sa.delete(Invitation).where(Invitation.session_id.in_(sessions))),
        ("meetings", sa.delete(VideoMeeting).where(VideoMeeting.session_id.in_(sessions))),
        ("sessions", sa.delete(EventSession).where(EventSession.event_id.in_(courses))),
        ("participants", sa.delete(EventParticipant).where(EventParticipant.event_id.in_(courses))),
        ("courses", sa.delete(Event).where(Event.term_id.in_(term_ids))),
        ("imports", sa.delete(TimetableImport).where(TimetableImport.term_id.in_(term_ids))),
        ("terms", sa.delete(Term).where(Term.id.in_(term_ids))),
        ("people", sa.delete(Person).where(_seeded_email(Person.email))),
        (
            "zoom_account",
            sa.delete(ProviderAccount).where(ProviderAccount.name == found.get("zoom_account", "")),
        ),
    ):
        try:
            counts[label] = connection.execute(statement).rowcount
        except sa.exc.IntegrityError:
            raise SeedRefused(
                "the seeded people cannot be deleted: some were invited to events outside "
                "the seeded term since; remove them from those events first"
            ) from None
    db.session.expire_all()
    return counts, person_ids, event_ids


@lru_cache(maxsize=1024)
def _weekly(
    weekday: int, period: int, minutes: int, weeks: tuple[int, ...], holidays: tuple
) -> tuple[calendar.WeeklyPlan, dict[str, Any]]:
    plan = calendar.weekly_plan(
        first_day=FIRST_DAY,
        weekday=weekday,
        weeks=weeks,
        start=PERIODS[period],
        minutes=minutes,
        timezone=HOME_ZONE,
        periods=holidays,
    )
    return plan, recurrence_from_rrule(plan.rrule, plan.start, HOME_ZONE)


def seed_semester(
    *,
    size: Size,
    organiser_email: str | None = None,
    zoom_account: str = ZOOM_ACCOUNT,
    zoom_webhook_secret: str,
    replace: bool = False,
    progress: Callable[[str], None] = lambda line: None,
) -> SeedReport:
    """Generate the term for ``size`` and write it in the session's transaction (the caller
    commits, then tells the feed cache of ``SeedReport.person_ids`` and ``event_ids``).

    Refused (SeedRefused) when the database already holds a seeded semester, unless
    ``replace``: then that one is deleted first, in the same transaction.
    """
    started = time.perf_counter()
    problems = size.problems()
    if problems:
        raise SeedRefused("; ".join(f"--{k}: {v}" for k, v in problems.items()), code="invalid")
    report = SeedReport(zoom_account=zoom_account)
    found = existing_seed(organiser_email=organiser_email, zoom_account=zoom_account)
    if found and not replace:
        raise SeedRefused(
            "this database already holds a seeded semester ("
            + _describe_found(found)
            + "); --replace deletes it and seeds again"
        )
    if found:
        progress("deleting the seeded semester already here (" + _describe_found(found) + ")")
        report.replaced, report.person_ids, report.event_ids = remove_seed(found)

    organiser = _organiser(organiser_email, report)
    progress(f"generating the term (seed {size.seed})")
    plan = plan_term(size)
    connection = db.session.connection()
    writer = _Writer(connection)
    now = now_utc()

    # The Zoom account: one ORM row, through the service that encrypts its secrets.
    host_slots: dict[tuple[int, int], int] = {}
    for course in plan.courses:
        for slot in course.slots:
            host_slots[slot] = host_slots.get(slot, 0) + 1
    hosts = [
        f"zoom{n:04d}@pku.{EMAIL_DOMAIN}" for n in range(1, max(host_slots.values(), default=1) + 1)
    ]
    account = provider_accounts.add_account(
        name=zoom_account,
        kind="zoom",
        account_id="pku-semester-seed",
        client_id="pku-semester-seed",
        client_secret="seeded-never-used",  # noqa: S106 (no call ever reaches Zoom)
        webhook_secret=zoom_webhook_secret,
        hosts=hosts,
    )
    report.zoom_hosts = len(hosts)

    site_ids = _institutions(writer, organiser, plan, now, report)

    periods = tuple(
        calendar.holiday_periods(
            HOME_COUNTRY, None, FIRST_DAY, calendar.last_day(FIRST_DAY, size.weeks)
        )
    )
    report.holiday_dates = calendar.excluded_dates(periods)
    term_id = connection.execute(
        sa.insert(Term)
        .values(
            name=TERM_NAME,
            owner_id=organiser.id,
            institution_id=site_ids[HOME.name],
            timezone=HOME_ZONE,
            country=HOME_COUNTRY,
            subdivision=None,
            first_day=FIRST_DAY,
            weeks=size.weeks,
            skip_holidays=True,
            excluded_dates=report.holiday_dates,
            created_at=now,
        )
        .returning(Term.id)
    ).scalar_one()
    report.term_id = term_id

    progress(f"writing {len(plan.people):,} people")
    person_ids = writer.reserve_ids(Person.__table__, len(plan.people))
    working = {k: [list(r) for r in v] for k, v in DEFAULT_WORKING_HOURS.items()}
    acceptable = {k: [list(r) for r in v] for k, v in DEFAULT_ACCEPTABLE_HOURS.items()}
    writer.insert(
        Person.__table__,
        (
            "id",
            "name",
            "email",
            "institution_id",
            "timezone",
            "role_title",
            "working_hours",
            "acceptable_hours",
            "reminders",
            "locale",
            "link_version",
            "revision",
            "created_by_id",
            "created_at",
            "updated_at",
        ),
        (
            (
                person_ids[n],
                p.name,
                p.email,
                site_ids[p.site.name],
                p.site.timezone,
                p.role_title,
                working,
                acceptable,
                True,
                locale_for_country(p.site.country),
                0,
                0,
                organiser.id,
                now,
                now,
            )
            for n, p in enumerate(plan.people)
        ),
    )
    report.person_ids += person_ids
    report.teachers = plan.teachers
    report.teachers_abroad = size.abroad
    report.students = size.students
    abroad_sites = {p.site for p in plan.people[: size.abroad]}
    report.abroad_countries = len({s.country for s in abroad_sites})
    report.abroad_continents = len({s.continent for s in abroad_sites})

    progress(f"writing {len(plan.courses):,} courses")
    event_ids = writer.reserve_ids(Event.__table__, len(plan.courses))
    report.event_ids += event_ids
    writer.insert(
        Event.__table__,
        (
            "id",
            "title",
            "kind",
            "description",
            "owner_id",
            "timezone",
            "default_provider",
            "status",
            "reminder_minutes",
            "term_id",
            "course_code",
            "revision",
            "created_at",
            "updated_at",
        ),
        (
            (
                event_ids[n],
                c.title,
                "series",
                f"{c.code} {DEPARTMENTS[c.department][1]}, Peking University. {TERM_NAME}, "
                f"weeks {c.weeks[0]}-{c.weeks[-1]}.",
                organiser.id,
                HOME_ZONE,
                "zoom",
                "active",
                list(DEFAULT_REMINDER_MINUTES),
                term_id,
                c.code,
                0,
                now,
                now,
            )
            for n, c in enumerate(plan.courses)
        ),
    )
    report.courses = len(plan.courses)

    members = [
        (event_ids[n], person_ids[person], role)
        for n, course in enumerate(plan.courses)
        for role, people in (("chair", course.teachers), ("participant", course.students))
        for person in people
    ]
    progress(f"writing {len(members):,} course participants")
    participant_ids = writer.reserve_ids(EventParticipant.__table__, len(members))
    writer.insert(
        EventParticipant.__table__,
        ("id", "event_id", "person_id", "role", "required"),
        ((participant_ids[n], *member, True) for n, member in enumerate(members)),
    )
    report.participants = len(members)

    sessions, meetings = _sessions(plan, event_ids, periods, account, now, report)
    progress(f"writing {len(sessions):,} sessions and their Zoom meetings")
    session_ids = writer.reserve_ids(EventSession.__table__, len(sessions))
    writer.insert(
        EventSession.__table__,
        (
            "id",
            "event_id",
            "title",
            "start",
            "end",
            "timezone",
            "rrule",
            "exdates",
            "status",
            "ical_uid",
            "sequence",
            "revision",
            "created_at",
            "updated_at",
        ),
        ((session_ids[n], *row, now, now) for n, row in enumerate(sessions)),
    )
    meeting_ids = writer.reserve_ids(VideoMeeting.__table__, len(meetings))
    writer.insert(
        VideoMeeting.__table__,
        (
            "id",
            "session_id",
            "provider",
            "account_id",
            "external_id",
            "join_url",
            "passcode",
            "host_account",
            "status",
            "attempts",
            "data",
            "revision",
            "created_at",
            "updated_at",
        ),
        ((meeting_ids[n], session_ids[n], *row, now, now) for n, row in enumerate(meetings)),
    )
    report.sessions = report.meetings = len(sessions)

    # Every session invites its course's people: the teachers as chairs, the students.
    members_of: dict[int, list[tuple[int, str]]] = {}
    for event_id, person_id, role in members:
        members_of.setdefault(event_id, []).append((person_id, role))
    invitations = [
        (session_ids[n], person_id, role)
        for n, row in enumerate(sessions)
        for person_id, role in members_of.get(row[0], ())
    ]
    progress(f"writing {len(invitations):,} invitations")
    invitation_ids = writer.reserve_ids(Invitation.__table__, len(invitations))
    writer.insert(
        Invitation.__table__,
        ("id", "session_id", "person_id", "role", "required", "rsvp"),
        (
            (invitation_ids[n], *invitation, True, "needs-action")
            for n, invitation in enumerate(invitations)
        ),
    )
    report.invitations = len(invitations)
    report.seconds = time.perf_counter() - started
    return report


def _describe_found(found: dict[str, Any]) -> str:
    said = []
    if "terms" in found:
        said.append(f"term {TERM_NAME!r}")
    if "people" in found:
        said.append(f"{found['people']:,} people on {EMAIL_DOMAIN}")
    if "zoom_account" in found:
        said.append(f"Zoom account {found['zoom_account']!r}")
    return ", ".join(said)


def _organiser(email: str | None, report: SeedReport) -> Organiser:
    """The organiser named, else the demo's, else the seed's own registrar (created)."""
    if email:
        organiser = find_organiser(email)
        if organiser is None:
            raise SeedRefused(f"no organiser with email {email}", code="not_found")
    else:
        organiser = _demo_organiser() or find_organiser(SEED_ORGANISER_EMAIL)
        if organiser is None:
            organiser = create_organiser(
                email=SEED_ORGANISER_EMAIL,
                name="Office of Educational Administration, Peking University",
                timezone=HOME_ZONE,
            )
            report.organiser_created = True
    report.organiser_email = organiser.email
    return organiser


def _institutions(
    writer: _Writer, organiser: Organiser, plan: Plan, now: dt.datetime, report: SeedReport
) -> dict[str, int]:
    """The ids of the people's institutions by name: those the directory has, the rest added."""
    wanted: dict[str, Site] = {}
    for person in plan.people:
        wanted.setdefault(person.site.name, person.site)
    wanted.setdefault(HOME.name, HOME)
    ids = dict(
        db.session.execute(
            sa.select(Institution.name, Institution.id).where(Institution.name.in_(list(wanted)))
        ).all()
    )
    missing = [site for name, site in wanted.items() if name not in ids]
    report.institutions_reused = len(ids)
    report.institutions_created = len(missing)
    if missing:
        created = writer.connection.execute(
            sa.insert(Institution).returning(
                Institution.id, Institution.name, sort_by_parameter_order=True
            ),
            [
                {
                    "name": site.name,
                    "short_name": site.short_name,
                    "country": site.country,
                    "timezone": site.timezone,
                    "subdivision": None,
                    "created_by_id": organiser.id,
                    "created_at": now,
                    "updated_at": now,
                }
                for site in missing
            ],
        )
        ids.update({name: row_id for row_id, name in created})
    return ids


def _sessions(
    plan: Plan,
    event_ids: list[int],
    periods: tuple[calendar.HolidayPeriod, ...],
    account: ProviderAccount,
    now: dt.datetime,
    report: SeedReport,
) -> tuple[list[tuple], list[tuple]]:
    """A session per weekly meeting of every course, and its Zoom meeting.

    Each meeting has a host of its own among those meeting at that hour, so no host holds
    two meetings at once (Zoom allows one); its id, link and passcode come from the seed.
    """
    rng = random.Random(f"{plan.size.seed}-zoom")
    sessions: list[tuple] = []
    meetings: list[tuple] = []
    in_slot: dict[tuple[int, int], int] = {}
    used_ids: set[int] = set()
    for n, course in enumerate(plan.courses):
        for slot in course.slots:
            weekday, period = slot
            try:
                weekly, recurrence = _weekly(weekday, period, course.minutes, course.weeks, periods)
            except ValueError:
                continue  # every week it would meet is a holiday (a very short term)
            if any(reason == "holiday" for reason in weekly.skipped.values()):
                report.sessions_with_holidays += 1
            meeting_id = rng.randrange(81_000_000_000, 99_999_999_999)
            while meeting_id in used_ids:
                meeting_id = rng.randrange(81_000_000_000, 99_999_999_999)
            used_ids.add(meeting_id)
            # The same UID for the same course and slot on every run: a calendar that
            # subscribed before a --replace sees the same events.
            key = f"{plan.size.seed}-{course.code}-{weekday}-{period}".encode()
            uid = hashlib.sha256(key).hexdigest()[:32] + "@forum"
            sessions.append(
                (
                    event_ids[n],
                    course.title,
                    weekly.start,
                    weekly.end,
                    HOME_ZONE,
                    weekly.rrule,
                    weekly.exdates,
                    "scheduled",
                    uid,
                    0,
                    0,
                )
            )
            in_slot[slot] = in_slot.get(slot, 0) + 1
            host = account.hosts[in_slot[slot] - 1]
            password = "".join(rng.choice("0123456789") for _ in range(6))
            pwd = base64.urlsafe_b64encode(rng.randbytes(24)).decode().rstrip("=")
            data = {
                "id": meeting_id,
                "uuid": base64.b64encode(rng.randbytes(16)).decode(),
                "host_email": host,
                "topic": course.title,
                "type": 8,
                "start_time": format_instant(weekly.start),
                "duration": course.minutes,
                "timezone": HOME_ZONE,
                "recurrence": recurrence,
                "recurrence_note": None,
            }
            meetings.append(
                (
                    "zoom",
                    account.id,
                    str(meeting_id),
                    f"{ZOOM_JOIN_BASE}{meeting_id}?pwd={pwd}",
                    password,
                    host,
                    "created",
                    1,
                    data,
                    0,
                )
            )
    return sessions, meetings


# --- the same data? ---------------------------------------------------------------------------


def digest(term_id: int) -> str:
    """SHA-256 of a seeded term's data by what it is, not by row ids or creation times:
    two runs with the same seed and sizes give the same digest, on either backend."""
    hasher = hashlib.sha256()

    def add(label: str, rows: Iterable[Sequence[Any]]) -> None:
        lines = sorted(
            json.dumps([_plain(v) for v in row], ensure_ascii=False, sort_keys=True) for row in rows
        )
        hasher.update(f"{label}:{len(lines)}\n".encode())
        for line in lines:
            hasher.update(line.encode() + b"\n")

    term = db.session.get(Term, term_id)
    add("term", [(term.name, term.first_day, term.weeks, term.timezone, term.excluded_dates)])
    add(
        "people",
        db.session.execute(
            sa.select(
                Person.email,
                Person.name,
                Person.timezone,
                Person.locale,
                Person.role_title,
                Institution.name,
                Institution.country,
                Institution.timezone,
            )
            .join(Institution, Person.institution_id == Institution.id)
            .where(_seeded_email(Person.email))
        ),
    )
    courses = sa.select(Event.id).where(Event.term_id == term_id).scalar_subquery()
    add(
        "courses",
        db.session.execute(
            sa.select(Event.course_code, Event.title, Event.description, Event.kind).where(
                Event.term_id == term_id
            )
        ),
    )
    add(
        "sessions",
        db.session.execute(
            sa.select(
                Event.course_code,
                EventSession.title,
                EventSession.start,
                EventSession.end,
                EventSession.timezone,
                EventSession.rrule,
                EventSession.exdates,
                EventSession.ical_uid,
                VideoMeeting.provider,
                VideoMeeting.status,
                VideoMeeting.external_id,
                VideoMeeting.join_url,
                VideoMeeting.passcode,
                VideoMeeting.host_account,
                VideoMeeting.data,
            )
            .join(Event, EventSession.event_id == Event.id)
            .join(VideoMeeting, VideoMeeting.session_id == EventSession.id)
            .where(Event.term_id == term_id)
        ),
    )
    add(
        "participants",
        db.session.execute(
            sa.select(Event.course_code, Person.email, EventParticipant.role)
            .join(Event, EventParticipant.event_id == Event.id)
            .join(Person, EventParticipant.person_id == Person.id)
            .where(EventParticipant.event_id.in_(courses))
        ),
    )
    add(
        "invitations",
        db.session.execute(
            sa.select(EventSession.ical_uid, Person.email, Invitation.role, Invitation.rsvp)
            .join(EventSession, Invitation.session_id == EventSession.id)
            .join(Person, Invitation.person_id == Person.id)
            .where(EventSession.event_id.in_(courses))
        ),
    )
    return hasher.hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return format_instant(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
