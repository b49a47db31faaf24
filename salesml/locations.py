"""Where salesml finds its settings: the config file's name and the environment variables
that point elsewhere. Constants only, so that the command line can name them in its help
without importing the rest of the package."""

#: the config file to use, when ``--config`` is not given
ENV_CONFIG = "SALESML_CONFIG"
#: the warehouse file to use, over the config file's ``[warehouse] path``
ENV_WAREHOUSE = "SALESML_WAREHOUSE"
#: the config file looked for in the working folder
DEFAULT_CONFIG_NAME = "salesml.toml"
#: who the audit log records as running a command, over the login name (``salesml --as NAME``)
ENV_ACTOR = "SALESML_AS"
