"""A simulated i-PRO network disk recorder speaking the CGI interface over HTTP."""
