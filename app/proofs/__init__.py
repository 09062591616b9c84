"""Proofs of volunteer service (志愿服务证明) others can verify, and the volunteer records in the
national shape (training, commendations, the five blocks of an export)."""
