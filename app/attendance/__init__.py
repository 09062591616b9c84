"""Check-in and check-out at task sessions and venue bookings: a short-lived QR code on the
organizer's screen, a one-tap page on the member's phone, and check-in by hand."""
