"""Flask extensions, created unbound and initialised in create_app()."""

from typing import TYPE_CHECKING

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from app.db import Base

db = SQLAlchemy(model_class=Base)

# Models subclass Model: Flask-SQLAlchemy's db.Model, which type checkers see as our Base (it is
# Base with Flask-SQLAlchemy's extras; the stubs type it as a variable, not a class).
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model
migrate = Migrate(compare_type=True, render_as_batch=True)
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
