/** A crosscoder user's own module: it reads the library's API and nothing else. */
module consumer.modular {
  requires io.crosscoder.io;
}
