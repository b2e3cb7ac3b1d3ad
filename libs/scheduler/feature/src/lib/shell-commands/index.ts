export * from './shell-command-agent-client';
export * from './shell-command.service';
