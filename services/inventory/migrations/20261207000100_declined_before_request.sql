-- Payment runs beside the reservation: a decline can come before inventory sees the
-- checkout's request. It is recorded as the checkout's decision, so the request,
-- when it comes, reserves nothing.
ALTER TABLE reservations DROP CONSTRAINT reservations_status_check;
ALTER TABLE reservations ADD CONSTRAINT reservations_status_check
    CHECK (status IN ('reserved', 'released', 'rejected', 'expired', 'declined'));
