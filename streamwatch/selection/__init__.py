"""Selection: which frames are worth an analysis."""

from streamwatch.selection.selector import FrameSelector, Selection, Verdict
from streamwatch.selection.sharpness import downscaled_gray, laplacian_variance

__all__ = ["FrameSelector", "Selection", "Verdict", "downscaled_gray", "laplacian_variance"]
