"""One search service for articles, tickets and customers."""
