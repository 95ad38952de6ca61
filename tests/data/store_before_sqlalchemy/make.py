import sqlite3
from pathlib import Path
from videocoach.config import Settings
from videocoach.storage.store import Store
from videocoach.storage.records import MeetingRecord
d = Path("data"); key = Path("store.key")
s = Store(Settings(data_dir=d, key_file=key))
t = s.add_user("teacher1", "teacher", None, "Ms T"); c = s.add_user("coach1", "coach", None)
l = s.create_lesson(t, "Fractions", "fractions.mp4")
s.share(t, l.id, c)
s.save_stage(l.id, "probe", '{"duration_s": 12.5, "secret": "PLAINSTAGE"}')
s.save_teacher_voice(t.id, '{"voice": "PLAINVOICE"}')
b = s.add_bookmark(t, l.id, 1.0, 2.0, note="PLAINNOTE good wait time", tags=["questions"], trigger="PLAINTRIGGER", outcome="PLAINOUTCOME")
s.add_replay_note(c, b.id, "PLAINREPLAY")
s.save_meeting_record(t, MeetingRecord(lesson_id=l.id, follow_up="PLAINFOLLOW", focus="PLAINFOCUS"))
s.put_media_bytes(l.id, "original", b"PLAINVIDEO" * 100)
job = s.enqueue_job(l.id, "analyse")
s.audit(c.id, "lesson.view", l.id, "viewed")
print(l.id, t.id, c.id, b.id, job)
s.close()
con = sqlite3.connect(d / "videocoach.sqlite3"); con.execute("PRAGMA wal_checkpoint(TRUNCATE)"); con.execute("VACUUM"); con.close()
