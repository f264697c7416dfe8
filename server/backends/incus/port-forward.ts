/**
 * One TCP connection to a port on a lab's loopback, carried over an Incus exec: perl (in the lab
 * image) connects to 127.0.0.1:<port> and copies bytes between the connection and its stdin/stdout
 * until the lab's side closes. The gateway's end of stdin closing is passed on as a half-close.
 * Nothing in the lab listens for the gateway, and nothing stays behind: the exec ends with the
 * connection (labs have no network device; their loopback is theirs).
 */

/** The forwarder, in perl with its core Socket module only (it starts in a few ms): select(2) and blocking copies, 64 KiB at a time. */
const FORWARDER = String.raw`
use strict; use Socket;
my $port = $ARGV[0];
socket(my $lab, PF_INET, SOCK_STREAM, 0) or die "socket: $!\n";
connect($lab, pack_sockaddr_in($port, inet_aton('127.0.0.1')))
  or do { print STDERR "nothing answers on port $port in the lab ($!)\n"; exit 3 };
binmode STDIN; binmode STDOUT;
my ($input, $buffer) = (1);
sub copy { my ($to, $length) = @_;
  for (my $done = 0; $done < $length;) { my $wrote = syswrite($to, $buffer, $length - $done, $done); exit 0 unless defined $wrote; $done += $wrote } }
while (1) {
  my $want = ''; vec($want, fileno($lab), 1) = 1; vec($want, 0, 1) = 1 if $input;
  next if select(my $ready = $want, undef, undef, undef) <= 0;
  if (vec($ready, fileno($lab), 1)) { my $read = sysread($lab, $buffer, 65536); exit 0 unless $read; copy(\*STDOUT, $read) }
  if ($input && vec($ready, 0, 1)) {
    my $read = sysread(STDIN, $buffer, 65536);
    if ($read) { copy($lab, $read) } else { $input = 0; shutdown($lab, 1) }
  }
}
`;

/** The exec's command line that forwards one connection to `port`. */
export function forwardCommand(port: number): string[] {
	return ['perl', '-e', FORWARDER, String(port)];
}
