"""Pages of the browser UI. Views stay thin: forms check the input, the four APIs do the
work (``portal.api``), templates render the answers."""
