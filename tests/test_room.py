"""Movement and use of the room (measures/room.py): pure measures on hand-made positions."""

from __future__ import annotations

import pytest

from videocoach.measures.room import Sighting, heat_map, room_use, teacher_path, zone_of


def test_zone_names_follow_the_picture():
    assert zone_of(0.05, 0.05) == "far left"
    assert zone_of(0.5, 0.5) == "middle centre"
    assert zone_of(0.99, 1.0) == "near right"


def test_lost_face_keeps_the_last_position_flagged_and_only_for_a_while():
    path = teacher_path([Sighting(0.0, 0.2, 0.2), Sighting(1.0, 0.3, 0.2)], duration_s=20.0, max_hold_s=5.0)
    assert [p.seen for p in path[:2]] == [True, True]
    held = [p for p in path if not p.seen]
    assert held and all((p.x, p.y) == (0.3, 0.2) for p in held)
    assert max(p.t_s for p in path) == 6.0  # held 5 s after the last sighting, then unknown


def test_front_among_pupils_zones_and_pupils_visited():
    pupils = [[Sighting(t, 0.8, 0.8) for t in range(30)], [Sighting(t, 0.15, 0.85) for t in range(30)],
              [Sighting(t, 0.5, 0.9) for t in range(30)]]
    # 10 s at the front (top middle), then 10 s beside the first pupil
    teacher = [Sighting(float(t), 0.5, 0.2) for t in range(10)] + [Sighting(float(t), 0.78, 0.75) for t in range(10, 20)]
    use = room_use(teacher, pupils, duration_s=29.0)
    assert use.front_s == 10.0 and use.among_s == 10.0
    assert use.pupils == 3 and use.pupils_visited == 1
    assert dict(use.pupils_per_zone) == {"near left": 1, "near centre": 1, "near right": 1}
    zones = {z.zone: z for z in use.zones}
    assert zones["far centre"].seconds == 10.0 and zones["far centre"].first_s == 0.0
    assert zones["near right"].seconds == 10.0 and zones["near right"].visits == 1
    assert use.lost_s == pytest.approx(29.0 - 20.0)
    assert sum(map(sum, use.heat)) == 20.0


def test_heat_map_counts_seconds_per_cell():
    path = teacher_path([Sighting(float(t), 0.01, 0.01) for t in range(5)], duration_s=4.0)
    grid = heat_map(path, rows=2, cols=2)
    assert grid == ((5.0, 0.0), (0.0, 0.0))


def test_bad_positions_are_refused():
    with pytest.raises(ValueError):
        Sighting(1.0, 1.5, 0.2)
    with pytest.raises(ValueError):
        teacher_path([], duration_s=10.0, step_s=0.0)
