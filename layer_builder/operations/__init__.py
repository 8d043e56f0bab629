"""What happens after publishing: copies to other regions, sharing, retention."""
