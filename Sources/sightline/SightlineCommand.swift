@main
struct SightlineCommand {
    static func main() {}
}
