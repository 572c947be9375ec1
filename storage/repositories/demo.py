"""What `frontdesk demo` needs of the database beyond the ordinary repositories: whether it
already holds real requests (the demo never mixes its history into them), and a booking
cancelled as the client's manage link would.
"""

from __future__ import annotations

from sqlalchemy import func, select, update

from storage.db import Database
from storage.models import Booking, BookingRequest, BookingStatus
from storage.repositories._sql import table

REQUESTS = table(BookingRequest)
BOOKINGS = table(Booking)


class DemoRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def count_requests(self, key_prefix: str) -> tuple[int, int]:
        """(requests keyed with `key_prefix`, the others): demo ones and real ones."""
        keyed = REQUESTS.c.idempotency_key.startswith(key_prefix, autoescape=True)
        with self.db.connection() as conn:
            row = conn.execute(
                select(
                    func.count().filter(keyed),
                    func.count().filter(~keyed),
                ).select_from(REQUESTS)
            ).one()
        return int(row[0]), int(row[1])

    def cancel_booking(self, booking_id: int) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                update(BOOKINGS)
                .where(BOOKINGS.c.id == booking_id)
                .values(status=BookingStatus.CANCELLED)
            )
