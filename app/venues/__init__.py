"""Shared venues (政治生活馆, 老党员共享家园, 党性教育基地) and their bookings."""
