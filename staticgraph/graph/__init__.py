"""The graph itself: the IR (`ir`), the default graph (`context`), device
placement (`placement`), nested structures (`structure`), the validator every
pass runs (`check`) and the text/DOT views (`printing`)."""
