"""One question each: plan the models, train them, score them, give JSON."""
