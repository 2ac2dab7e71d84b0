"""How the projector writes what shared/read_model computes, where that takes more than a fold."""
