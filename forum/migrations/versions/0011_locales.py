"""People and organisers read in a language of their own.

people.locale is a BCP 47 tag ("en", "zh-Hans", "ja", "fr", "ar"); people already here take
the language of their institution's country where one is clear, else English.
organisers.locale is empty until an organiser chooses: their pages then follow the
browser's Accept-Language.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 07:50:12

"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# The countries whose language is clear at the time of this migration (forum.i18n).
COUNTRY_LANGUAGE = {
    "CN": "zh-Hans",
    "JP": "ja",
    **dict.fromkeys(
        "FR MC SN CI BJ BF ML NE TG GA CG CD GN MG".split(),
        "fr",
    ),
    **dict.fromkeys(
        "AE BH DZ EG IQ JO KW LB LY MA MR OM PS QA SA SD SY TN YE".split(),
        "ar",
    ),
}


def upgrade():
    op.add_column(
        "people",
        sa.Column("locale", sa.String(length=16), nullable=False, server_default="en"),
    )
    op.add_column("organisers", sa.Column("locale", sa.String(length=16), nullable=True))
    people = sa.table(
        "people", sa.column("locale", sa.String), sa.column("institution_id", sa.Integer)
    )
    institutions = sa.table("institutions", sa.column("id", sa.Integer), sa.column("country"))
    for language in sorted(set(COUNTRY_LANGUAGE.values())):
        countries = sorted(c for c, lang in COUNTRY_LANGUAGE.items() if lang == language)
        op.execute(
            people.update()
            .where(
                people.c.institution_id.in_(
                    sa.select(institutions.c.id).where(
                        sa.func.upper(institutions.c.country).in_(countries)
                    )
                )
            )
            .values(locale=language)
        )


def downgrade():
    for table in ("organisers", "people"):
        if op.get_bind().dialect.name == "sqlite":
            # In place (SQLite 3.35+): a batch copy would drop the expression indexes on
            # lower(email), which SQLAlchemy cannot reflect.
            op.execute(f"ALTER TABLE {table} DROP COLUMN locale")
        else:
            op.drop_column(table, "locale")
