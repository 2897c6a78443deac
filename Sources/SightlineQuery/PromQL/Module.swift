// The PromQL module; see PromQL/.
