export * from './load-balancer.types';
export * from './load-balancer-requests';
export * from './http-load-balancer-client';
// Test support (used by specs only): a Baragon-style load balancer on a real HTTP server.
export * from './fake-load-balancer';
