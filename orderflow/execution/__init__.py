"""Execution: turn decisions into orders and fills, track positions and daily performance.

Paper and live are two implementations of one broker protocol (``broker.py``), chosen once at
start-up; ``engine.py`` runs the executor process (leadership, LISTEN/NOTIFY, polling fallback).
"""
