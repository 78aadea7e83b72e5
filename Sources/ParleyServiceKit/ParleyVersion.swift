/// The version of Parley's executables: logged at start and exported as `parley_build_info`.
public enum ParleyVersion {
    /// Bumped with each release; `-dev` between releases.
    public static let current = "0.2.0-dev"
}
