"""Operations on the backends themselves (not through the API): used by `talkrate ops`."""
