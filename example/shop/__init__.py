"""The example shop project: a product-catalog backend shaped like a WhatsApp CRM backend."""
