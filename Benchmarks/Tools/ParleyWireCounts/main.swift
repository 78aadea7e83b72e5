// Instruction counts of the hot wire operations, for `valgrind --tool=callgrind` (repeatable on a
// shared machine, unlike wall-clock timings). `ParleyWireCounts <operation> <iterations>` runs one
// operation in `measuredLoop`, the only function Benchmarks/callgrind.sh collects; the
// instructions per operation are its inclusive count divided by the iterations.
#if canImport(Glibc)
import Glibc
#endif

let arguments = CommandLine.arguments
if arguments.count == 2, arguments[1] == "--list" {
    for name in operations.keys.sorted() { print(name) }
    exit(0)
}
guard arguments.count == 3, operations[arguments[1]] != nil, let iterations = Int(arguments[2]) else {
    print("usage: ParleyWireCounts <operation> <iterations> | --list")
    exit(2)
}
_ = operations[arguments[1]]!()  // warm up: lazy globals and first-use metadata stay out of the count
print(measuredLoop(iterations))
