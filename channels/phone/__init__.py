"""Phone channel: Asterisk AMI call tracking, AudioSocket call audio, live transcription on the agent desk."""
